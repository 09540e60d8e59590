//! `POST /.search` (RFC 7644 §3.4.3): the query parameters of a list
//! request, sent as a `SearchRequest` body instead.

use serde_json::Value;

use super::ScimError;

pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A search, as the list query would have said it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchRequest {
    pub filter: Option<String>,
    pub start_index: Option<u64>,
    pub count: Option<u64>,
    pub excluded_attributes: Vec<String>,
}

pub fn search_request(body: &Value) -> Result<SearchRequest, ScimError> {
    let object = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    if let Some(schemas) = object.get("schemas") {
        let named = schemas.as_array().is_some_and(|list| list.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)));
        if !named {
            return Err(ScimError::invalid_syntax(format!("a SearchRequest names the schema `{SEARCH_SCHEMA}`")));
        }
    }
    let filter = match object.get("filter") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(ScimError::invalid_filter("filter must be a string")),
    };
    let number = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| ScimError::invalid_value(format!("{name} must be a non-negative integer"))),
    };
    let excluded_attributes = match object.get("excludedAttributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(list)) => list.split(',').map(|a| a.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| ScimError::invalid_value("excludedAttributes must be strings"))?,
        Some(_) => return Err(ScimError::invalid_value("excludedAttributes must be a list of strings")),
    };
    Ok(SearchRequest { filter, start_index: number("startIndex")?, count: number("count")?, excluded_attributes })
}
