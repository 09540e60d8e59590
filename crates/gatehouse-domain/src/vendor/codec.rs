//! The JSON forms of evidence metadata and of an integration's declared
//! access: what the API accepts and shows, and what the store keeps, so the
//! two can never read one field differently. Dates are `YYYY-MM-DD`,
//! lifetimes are spans such as `1h` or `30d`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use time::macros::format_description;
use time::{Date, Duration};

use super::evidence::{
    BridgeLetter, Certificate, Dpa, EvidenceKind, EvidenceMetadata, PenTest, Questionnaire, Soc2, TrustService,
};
use super::standard::{AccessMethod, DeclaredAccess, Permission, Repositories};
use crate::span::{format_duration, parse_duration};

/// A field of a JSON form that is missing, of the wrong type, or does not
/// parse; the sentence names the field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

/// The largest list a form accepts (permissions, repositories, scopes, IP
/// ranges): bounds what one request can make the server hold.
pub const MAX_LIST_ITEMS: usize = 256;
/// The longest text item of a list.
pub const MAX_ITEM_CHARS: usize = 256;

pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]")).unwrap_or_else(|_| date.to_string())
}

pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

pub(crate) struct Fields<'a> {
    what: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(what: &'a str, value: &'a Value, allowed: &[&str]) -> Result<Self, FormError> {
        let map = value.as_object().ok_or_else(|| FormError(format!("{what} must be a JSON object")))?;
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(FormError(format!(
                "{what} has an unknown field `{unknown}` (expected: {})",
                allowed.join(", ")
            )));
        }
        Ok(Self { what, map })
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|value| !value.is_null())
    }

    pub(crate) fn missing(&self, field: &str) -> FormError {
        FormError(format!("{} needs `{field}`", self.what))
    }

    pub(crate) fn wrong(&self, field: &str, expected: &str) -> FormError {
        FormError(format!("`{field}` of {} must be {expected}", self.what))
    }

    pub(crate) fn text(&self, field: &str) -> Result<&'a str, FormError> {
        self.optional_text(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn optional_text(&self, field: &str) -> Result<Option<&'a str>, FormError> {
        self.get(field).map(|value| value.as_str().ok_or_else(|| self.wrong(field, "a string"))).transpose()
    }

    pub(crate) fn date(&self, field: &str) -> Result<Date, FormError> {
        self.optional_date(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn optional_date(&self, field: &str) -> Result<Option<Date>, FormError> {
        self.optional_text(field)?
            .map(|text| parse_date(text).ok_or_else(|| self.wrong(field, "a date as YYYY-MM-DD")))
            .transpose()
    }

    pub(crate) fn optional_bool(&self, field: &str) -> Result<Option<bool>, FormError> {
        self.get(field).map(|value| value.as_bool().ok_or_else(|| self.wrong(field, "true or false"))).transpose()
    }

    pub(crate) fn optional_count(&self, field: &str) -> Result<Option<u32>, FormError> {
        self.get(field)
            .map(|value| {
                value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| self.wrong(field, "a whole number from 0"))
            })
            .transpose()
    }

    pub(crate) fn list(&self, field: &str) -> Result<Vec<String>, FormError> {
        let Some(value) = self.get(field) else { return Ok(Vec::new()) };
        let items = value.as_array().ok_or_else(|| self.wrong(field, "a list of strings"))?;
        if items.len() > MAX_LIST_ITEMS {
            return Err(self.wrong(field, &format!("a list of at most {MAX_LIST_ITEMS} items")));
        }
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .filter(|text| {
                        !text.trim().is_empty()
                            && text.chars().count() <= MAX_ITEM_CHARS
                            && !text.chars().any(char::is_control)
                    })
                    .map(|text| text.trim().to_owned())
                    .ok_or_else(|| self.wrong(field, &format!("a list of strings of 1 to {MAX_ITEM_CHARS} characters")))
            })
            .collect()
    }

    pub(crate) fn span(&self, field: &str) -> Result<Option<Duration>, FormError> {
        self.optional_text(field)?
            .map(|text| match parse_duration(text) {
                Ok(span) if span > Duration::ZERO => Ok(span),
                _ => Err(self.wrong(field, "a positive span such as `1h` or `30d`")),
            })
            .transpose()
    }
}

fn parsed<T: std::str::FromStr>(text: &str) -> Result<T, FormError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error: T::Err| FormError(error.to_string()))
}

/// The fields each kind's metadata has.
pub fn metadata_fields(kind: EvidenceKind) -> &'static [&'static str] {
    match kind {
        EvidenceKind::Soc2 => &["type", "opinion", "period_start", "period_end", "trust_services"],
        EvidenceKind::BridgeLetter => &["covers", "until"],
        EvidenceKind::PenTest => &["date", "scope", "product_in_scope", "open_critical"],
        EvidenceKind::Dpa => &["signed_on"],
        EvidenceKind::Questionnaire => &["questionnaire", "answered_on"],
        EvidenceKind::Certificate => &["name", "expires_on"],
    }
}

/// Reads `kind`'s metadata from its JSON form. A pen test's product is in
/// scope when it says so, or, when it does not, when it names a scope.
pub fn metadata_from_json(kind: EvidenceKind, value: &Value) -> Result<EvidenceMetadata, FormError> {
    let what = format!("the {} metadata", kind.label());
    let fields = Fields::of(&what, value, metadata_fields(kind))?;
    Ok(match kind {
        EvidenceKind::Soc2 => {
            let services = fields.list("trust_services")?;
            let trust_services =
                services.iter().map(|name| parsed::<TrustService>(name)).collect::<Result<BTreeSet<_>, _>>()?;
            EvidenceMetadata::Soc2(Soc2 {
                report_type: parsed(fields.text("type")?)?,
                opinion: parsed(fields.text("opinion")?)?,
                trust_services,
                period_start: fields.date("period_start")?,
                period_end: fields.date("period_end")?,
            })
        }
        EvidenceKind::BridgeLetter => EvidenceMetadata::BridgeLetter(BridgeLetter {
            covers: fields
                .text("covers")?
                .parse()
                .map_err(|_| fields.wrong("covers", "the id of the SOC 2 report it extends"))?,
            until: fields.date("until")?,
        }),
        EvidenceKind::PenTest => {
            let scope = fields.list("scope")?;
            EvidenceMetadata::PenTest(PenTest {
                performed_on: fields.date("date")?,
                product_in_scope: fields.optional_bool("product_in_scope")?.unwrap_or(!scope.is_empty()),
                open_critical: fields
                    .optional_count("open_critical")?
                    .ok_or_else(|| fields.missing("open_critical"))?,
            })
        }
        EvidenceKind::Dpa => EvidenceMetadata::Dpa(Dpa { signed_on: fields.date("signed_on")? }),
        EvidenceKind::Questionnaire => EvidenceMetadata::Questionnaire(Questionnaire {
            kind: parsed(fields.text("questionnaire")?)?,
            answered_on: fields.date("answered_on")?,
        }),
        EvidenceKind::Certificate => EvidenceMetadata::Certificate(Certificate {
            name: fields.text("name")?.to_owned(),
            expires_on: fields.date("expires_on")?,
        }),
    })
}

/// The JSON form of `metadata` (a pen test shows whether its product was in scope).
pub fn metadata_to_json(metadata: &EvidenceMetadata) -> Value {
    match metadata {
        EvidenceMetadata::Soc2(soc2) => json!({
            "type": soc2.report_type.as_str(),
            "opinion": soc2.opinion.as_str(),
            "period_start": format_date(soc2.period_start),
            "period_end": format_date(soc2.period_end),
            "trust_services": soc2.trust_services.iter().map(|service| service.as_str()).collect::<Vec<_>>(),
        }),
        EvidenceMetadata::BridgeLetter(letter) => json!({
            "covers": letter.covers.to_string(),
            "until": format_date(letter.until),
        }),
        EvidenceMetadata::PenTest(test) => json!({
            "date": format_date(test.performed_on),
            "product_in_scope": test.product_in_scope,
            "open_critical": test.open_critical,
        }),
        EvidenceMetadata::Dpa(dpa) => json!({ "signed_on": format_date(dpa.signed_on) }),
        EvidenceMetadata::Questionnaire(questionnaire) => json!({
            "questionnaire": questionnaire.kind.as_str(),
            "answered_on": format_date(questionnaire.answered_on),
        }),
        EvidenceMetadata::Certificate(certificate) => json!({
            "name": certificate.name,
            "expires_on": format_date(certificate.expires_on),
        }),
    }
}

/// The fields of a declared access's JSON form.
pub const DECLARED_FIELDS: [&str; 10] = [
    "method",
    "permissions",
    "repositories",
    "repository_names",
    "token_ttl",
    "refresh_ttl",
    "webhook_signature",
    "ip_allowlist",
    "mtls",
    "secret_rotated_at",
];

/// Reads a declared access from its JSON form (the fields of
/// [`DECLARED_FIELDS`] of `value`, which may hold others the caller reads).
/// `token_ttl` absent: the tokens never expire; `repositories` absent:
/// `selected`.
pub fn declared_from_json(value: &Value) -> Result<DeclaredAccess, FormError> {
    let map = value.as_object().ok_or_else(|| FormError("the integration must be a JSON object".into()))?;
    let only: Map<String, Value> = map
        .iter()
        .filter(|(key, _)| DECLARED_FIELDS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let only = Value::Object(only);
    let fields = Fields::of("the integration", &only, &DECLARED_FIELDS)?;
    let method: AccessMethod = parsed(fields.text("method")?)?;
    let names = fields.list("repository_names")?;
    let repositories = match fields.optional_text("repositories")?.unwrap_or("selected") {
        "all" => Repositories::All,
        "selected" => Repositories::Selected(names),
        _ => return Err(fields.wrong("repositories", "`all` or `selected`")),
    };
    let permissions = fields.list("permissions")?;
    for permission in &permissions {
        parsed::<Permission>(permission)?;
    }
    Ok(DeclaredAccess {
        method,
        permissions,
        repositories,
        token_lifetime: fields.span("token_ttl")?,
        refresh_token_lifetime: fields.span("refresh_ttl")?,
        webhook_signed: fields.optional_bool("webhook_signature")?.unwrap_or(false),
        ip_allowlist: fields.list("ip_allowlist")?,
        mtls: fields.optional_bool("mtls")?.unwrap_or(false),
        secret_rotated_on: fields.optional_date("secret_rotated_at")?,
    })
}

/// The JSON form of a declared access.
pub fn declared_to_json(declared: &DeclaredAccess) -> Value {
    let (repositories, names) = match &declared.repositories {
        Repositories::All => ("all", Vec::new()),
        Repositories::Selected(names) => ("selected", names.clone()),
    };
    json!({
        "method": declared.method.as_str(),
        "permissions": declared.permissions,
        "repositories": repositories,
        "repository_names": names,
        "token_ttl": declared.token_lifetime.map(format_duration),
        "refresh_ttl": declared.refresh_token_lifetime.map(format_duration),
        "webhook_signature": declared.webhook_signed,
        "ip_allowlist": declared.ip_allowlist,
        "mtls": declared.mtls,
        "secret_rotated_at": declared.secret_rotated_on.map(format_date),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_its_json_form() {
        let soc2 = json!({"type": "II", "opinion": "unqualified", "period_start": "2025-10-01",
            "period_end": "2026-09-30", "trust_services": ["security", "availability"]});
        let read = metadata_from_json(EvidenceKind::Soc2, &soc2).unwrap();
        assert_eq!(metadata_to_json(&read), soc2);
        let test = json!({"date": "2026-03-01", "scope": ["Acme Scan API"], "open_critical": 0});
        let EvidenceMetadata::PenTest(read) = metadata_from_json(EvidenceKind::PenTest, &test).unwrap() else {
            panic!("a pen test")
        };
        assert!(read.product_in_scope, "a named scope puts the product in scope");
    }

    #[test]
    fn bad_metadata_is_refused_naming_the_field() {
        let cases = [
            (EvidenceKind::Soc2, json!({"type": "III"}), "SOC 2 report type"),
            (
                EvidenceKind::Soc2,
                json!({"type": "II", "opinion": "unqualified", "period_start": "2025-13-01",
                "period_end": "2026-01-01", "trust_services": ["security"]}),
                "`period_start`",
            ),
            (EvidenceKind::PenTest, json!({"date": "2026-01-01", "open_critical": -1}), "`open_critical`"),
            (EvidenceKind::Dpa, json!({"signed_on": "2026-01-01", "extra": 1}), "unknown field `extra`"),
            (EvidenceKind::Dpa, json!([1]), "JSON object"),
            (EvidenceKind::Certificate, json!({"name": 7, "expires_on": "2027-01-01"}), "`name`"),
        ];
        for (kind, value, expected) in cases {
            let error = metadata_from_json(kind, &value).unwrap_err().to_string();
            assert!(error.contains(expected), "{kind} {value}: {error}");
        }
    }

    #[test]
    fn declared_access_round_trips_and_refuses_unknown_methods_and_permissions() {
        let declared = json!({"method": "github_app", "permissions": ["contents:read"], "repositories": "selected",
            "repository_names": ["acme/web"], "token_ttl": "1h", "refresh_ttl": null, "webhook_signature": true,
            "ip_allowlist": [], "mtls": false, "secret_rotated_at": "2026-01-01"});
        let read = declared_from_json(&declared).unwrap();
        assert_eq!(declared_to_json(&read), declared);
        let unknown = declared_from_json(&json!({"method": "telepathy"})).unwrap_err().to_string();
        assert!(unknown.contains("telepathy"), "{unknown}");
        let permission =
            declared_from_json(&json!({"method": "github_app", "permissions": ["root"]})).unwrap_err().to_string();
        assert!(permission.contains("`root` is not a permission"), "{permission}");
        let ttl = declared_from_json(&json!({"method": "github_app", "token_ttl": "0s"})).unwrap_err().to_string();
        assert!(ttl.contains("token_ttl"), "{ttl}");
    }
}
