//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON, in the two
//! dialects IdPs send:
//!
//! - Okta: `{"op": "replace", "value": {"active": false}}`: no path, the
//!   value's attributes replace the resource's.
//! - Entra: `{"op": "Replace", "path": "active", "value": "False"}`: the
//!   op in any case, a path (`name.givenName`,
//!   `emails[type eq "work"].value`), strings for booleans.
//!
//! `add` and `replace` set, `remove` deletes; `members` (groups) are
//! merged and removed by `value`. A path may be schema-qualified: the core
//! schema's attributes are the resource's own, the enterprise extension's
//! live in its object (`urn:…:enterprise:2.0:User:manager`), and a path
//! that is the extension's URN itself sets its sub-attributes one by one.

use serde_json::{Map, Value};

use super::{ENTERPRISE_USER_SCHEMA, ScimError, USER_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies the `Operations` of a PatchOp request to `resource`.
pub fn apply_patch(resource: &mut Value, request: &Value) -> Result<(), ScimError> {
    let operations = request
        .get("Operations")
        .or_else(|| request.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH needs an `Operations` array"))?;
    for operation in operations {
        let op = match operation.get("op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            other => {
                return Err(ScimError::invalid_syntax(format!("unknown PATCH op `{}`", other.unwrap_or("(none)"))));
            }
        };
        let value = operation.get("value").cloned();
        let object =
            resource.as_object_mut().ok_or_else(|| ScimError::invalid_syntax("the resource is not an object"))?;
        match operation.get("path").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty()) {
            None => {
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::invalid_value("a PATCH without a path needs an object value"));
                };
                if op == Op::Remove {
                    return Err(ScimError::invalid_path("remove needs a path"));
                }
                for (key, value) in values {
                    set_path(object, &key, value, op)?;
                }
            }
            Some(path) => match op {
                Op::Remove => remove_path(object, path, value.as_ref())?,
                _ => set_path(
                    object,
                    path,
                    value.ok_or_else(|| ScimError::invalid_value("add and replace need a value"))?,
                    op,
                )?,
            },
        }
    }
    Ok(())
}

/// `a`, `a.b`, a dotted key Okta sends inside a value (`name.givenName`),
/// or `attr[sub eq "x"].field` for multi-valued attributes.
fn set_path(object: &mut Map<String, Value>, path: &str, value: Value, op: Op) -> Result<(), ScimError> {
    match qualified(path) {
        Qualified::Core(rest) => return set_path(object, rest, value, op),
        Qualified::Extension(rest) => return set_path(extension(object, path)?, rest, value, op),
        Qualified::Whole => {
            let Value::Object(values) = value else {
                return Err(ScimError::invalid_value(format!("`{ENTERPRISE_USER_SCHEMA}` must be an object")));
            };
            let target = extension(object, path)?;
            for (key, value) in values {
                set_path(target, &key, value, op)?;
            }
            return Ok(());
        }
        Qualified::Unqualified => {}
    }
    if let Some((attribute, selector, field)) = split_selector(path)? {
        let list = object.entry(attribute.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
        let items =
            list.as_array_mut().ok_or_else(|| ScimError::invalid_path(format!("`{attribute}` is not multi-valued")))?;
        let position = items.iter().position(|item| selector.matches(item));
        let item = match position {
            Some(index) => &mut items[index],
            None => {
                let mut fresh = Map::new();
                fresh.insert(selector.attribute.clone(), Value::String(selector.value.clone()));
                items.push(Value::Object(fresh));
                items.last_mut().ok_or_else(|| ScimError::invalid_path(path))?
            }
        };
        match (field, item.as_object_mut()) {
            (Some(field), Some(fields)) => {
                fields.insert(field.to_owned(), value);
            }
            (None, _) => *item = value,
            (Some(_), None) => return Err(ScimError::invalid_path(path)),
        }
        return Ok(());
    }
    let mut segments: Vec<&str> = path.split('.').collect();
    // A schema-qualified path: drop the schema URN.
    if segments.len() > 1 && segments[0].starts_with("urn:") {
        let last = path.rsplit(':').next().unwrap_or(path);
        segments = last.split('.').collect();
    }
    let (last, parents) = segments.split_last().ok_or_else(|| ScimError::invalid_path(path))?;
    let mut target = object;
    for parent in parents {
        let key = existing_key(target, parent);
        target = target
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| ScimError::invalid_path(path))?;
    }
    let key = existing_key(target, last);
    match (op, target.get_mut(&key), value) {
        // `add` to a multi-valued attribute appends (RFC 7644 §3.5.2.1).
        (Op::Add, Some(Value::Array(items)), Value::Array(more)) => {
            for item in more {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
        }
        (_, _, value) => {
            target.insert(key, value);
        }
    }
    Ok(())
}

fn remove_path(object: &mut Map<String, Value>, path: &str, value: Option<&Value>) -> Result<(), ScimError> {
    match qualified(path) {
        Qualified::Core(rest) => return remove_path(object, rest, value),
        Qualified::Extension(rest) => return remove_path(extension(object, path)?, rest, value),
        Qualified::Whole => {
            let key = existing_key(object, ENTERPRISE_USER_SCHEMA);
            object.remove(&key);
            return Ok(());
        }
        Qualified::Unqualified => {}
    }
    if let Some((attribute, selector, field)) = split_selector(path)? {
        let key = existing_key(object, attribute);
        if let Some(Value::Array(items)) = object.get_mut(&key) {
            match field {
                None => items.retain(|item| !selector.matches(item)),
                Some(field) => {
                    for item in items.iter_mut().filter(|item| selector.matches(item)) {
                        if let Some(fields) = item.as_object_mut() {
                            fields.remove(field);
                        }
                    }
                }
            }
        }
        return Ok(());
    }
    let key = existing_key(object, path);
    match (object.get_mut(&key), value) {
        // `remove` of some members, given as a value (Okta and Entra both do).
        (Some(Value::Array(items)), Some(Value::Array(gone))) => {
            // RFC 7644 §3.5.2.2: each item removed is named by its `value`.
            let ids = gone
                .iter()
                .map(|g| g.get("value").filter(|v| v.is_string()))
                .collect::<Option<Vec<&Value>>>()
                .ok_or_else(|| ScimError::invalid_value(format!("each `{path}` to remove needs a string `value`")))?;
            items.retain(|item| !item.get("value").is_some_and(|v| ids.contains(&v)));
        }
        _ => {
            object.remove(&key);
        }
    }
    Ok(())
}

/// What a path's schema URN, if any, says about where it points.
enum Qualified<'p> {
    /// No URN: an attribute of the resource.
    Unqualified,
    /// `urn:…:core:2.0:User:ATTR`: the resource's own attribute `ATTR`.
    Core(&'p str),
    /// `urn:…:enterprise:2.0:User:ATTR`: `ATTR` inside the extension.
    Extension(&'p str),
    /// The enterprise extension's URN alone: the whole extension.
    Whole,
}

fn qualified(path: &str) -> Qualified<'_> {
    let under = |schema: &str| {
        let prefix = path.get(..schema.len()).filter(|prefix| prefix.eq_ignore_ascii_case(schema))?;
        path[prefix.len()..].strip_prefix(':').filter(|rest| !rest.is_empty())
    };
    if path.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
        Qualified::Whole
    } else if let Some(rest) = under(ENTERPRISE_USER_SCHEMA) {
        Qualified::Extension(rest)
    } else if let Some(rest) = under(USER_SCHEMA) {
        Qualified::Core(rest)
    } else {
        Qualified::Unqualified
    }
}

/// The enterprise extension's object in `object`, made when missing.
fn extension<'o>(object: &'o mut Map<String, Value>, path: &str) -> Result<&'o mut Map<String, Value>, ScimError> {
    let key = existing_key(object, ENTERPRISE_USER_SCHEMA);
    let slot = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().ok_or_else(|| ScimError::invalid_path(format!("`{path}`: the extension is not an object")))
}

/// The key as the resource already spells it (attribute names are
/// case-insensitive), else as given.
fn existing_key(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|key| key.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

struct Selector {
    attribute: String,
    value: String,
}

impl Selector {
    fn matches(&self, item: &Value) -> bool {
        item.get(&self.attribute).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(&self.value))
            || item.get("value").and_then(Value::as_str) == Some(self.value.as_str()) && self.attribute == "value"
    }
}

/// A multi-valued attribute, the selector in brackets, and the sub-field after.
type SelectorPath<'p> = (&'p str, Selector, Option<&'p str>);

/// `emails[type eq "work"].value` → (`emails`, type = work, Some(`value`)).
fn split_selector(path: &str) -> Result<Option<SelectorPath<'_>>, ScimError> {
    let Some(open) = path.find('[') else { return Ok(None) };
    let close = path
        .rfind(']')
        .filter(|&close| close > open)
        .ok_or_else(|| ScimError::invalid_path(format!("unclosed `[` in `{path}`")))?;
    let attribute = &path[..open];
    let filter = super::filter::parse_filter(&path[open + 1..close], &["type", "value", "display", "primary"])
        .map_err(|e| ScimError::invalid_path(e.detail))?;
    let field = path[close + 1..].strip_prefix('.').filter(|f| !f.is_empty());
    Ok(Some((attribute, Selector { attribute: filter.attribute.to_owned(), value: filter.value }, field)))
}
