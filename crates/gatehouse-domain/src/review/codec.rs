//! The JSON forms of definitions, items and decisions: what the API reads
//! and writes, what the store keeps, and what the digests hash (canonical
//! JSON, so an auditor recomputes them from the export alone).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::access::Pool;
use crate::audit::canonical_json;
use crate::clock::format_rfc3339;
use crate::identity::IdentityKind;
use crate::ids::IdentityId;
use crate::span::{format_duration, parse_duration};
use crate::vendor::FormError;
use crate::vendor::codec::Fields;

use super::campaign::Counts;
use super::decision::{Decision, Verdict};
use super::definition::{CampaignDefinition, ItemKind, NoResponse, Reviewer, Selector};
use super::item::{Advice, Recommendation, ReviewItem};

pub const DEFINITION_FIELDS: &[&str] = &[
    "name",
    "scope",
    "reviewers",
    "fallback",
    "duration",
    "recurrence",
    "on_no_response",
    "second_stage",
    "unused_after",
];
pub const SCOPE_FIELDS: &[&str] = &["kinds", "role", "scope", "identity_kind", "identity", "integration", "vendor"];

fn parsed<T: std::str::FromStr>(text: &str) -> Result<T, FormError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error: T::Err| FormError(error.to_string()))
}

fn instant(text: &str, field: &str) -> Result<OffsetDateTime, FormError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| FormError(format!("`{field}` must be an RFC 3339 instant")))
}

pub fn definition_from_json(value: &Value) -> Result<CampaignDefinition, FormError> {
    let fields = Fields::of("the campaign", value, DEFINITION_FIELDS)?;
    let name = fields.text("name")?.trim().to_owned();
    let reviewers = reviewer_list(&fields, "reviewers")?;
    let fallback: Pool = match fields.optional_text("fallback")? {
        Some(text) => text.parse().map_err(|_| FormError(super::DefinitionError::Fallback.to_string()))?,
        None => return Err(FormError(super::DefinitionError::Fallback.to_string())),
    };
    let duration = span(&fields, "duration")?.ok_or_else(|| fields.missing("duration"))?;
    let mut definition = CampaignDefinition::new(name, reviewers, fallback, duration);
    if let Some(scope) = fields.get("scope") {
        definition.selector = selector_from_json(scope)?;
    }
    definition.recurrence = fields.optional_text("recurrence")?.map(parsed).transpose()?;
    definition.on_no_response = fields
        .optional_text("on_no_response")?
        .map(|text| NoResponse::parse(text).ok_or_else(|| fields.wrong("on_no_response", "keep, revoke or suspend")))
        .transpose()?;
    definition.second_stage = reviewer_list(&fields, "second_stage")?;
    if let Some(unused_after) = span(&fields, "unused_after")? {
        definition.unused_after = unused_after;
    }
    definition.check().map_err(|error| FormError(error.to_string()))?;
    Ok(definition)
}

fn span(fields: &Fields<'_>, field: &str) -> Result<Option<time::Duration>, FormError> {
    fields
        .optional_text(field)?
        .map(|text| parse_duration(text).map_err(|_| fields.wrong(field, "a duration such as `14d` or `12h`")))
        .transpose()
}

fn reviewer_list(fields: &Fields<'_>, field: &str) -> Result<Vec<Reviewer>, FormError> {
    let Some(value) = fields.get(field) else { return Ok(Vec::new()) };
    let list = value.as_array().ok_or_else(|| fields.wrong(field, "a list of reviewers"))?;
    if list.len() > super::definition::MAX_REVIEWERS {
        return Err(FormError(super::DefinitionError::Reviewers.to_string()));
    }
    let mut reviewers = Vec::new();
    for item in list {
        let text = item.as_str().ok_or_else(|| fields.wrong(field, "a list of reviewers"))?;
        let reviewer: Reviewer = parsed(text)?;
        if !reviewers.contains(&reviewer) {
            reviewers.push(reviewer);
        }
    }
    Ok(reviewers)
}

fn selector_from_json(value: &Value) -> Result<Selector, FormError> {
    let fields = Fields::of("scope", value, SCOPE_FIELDS)?;
    let mut selector = Selector::default();
    if fields.get("kinds").is_some() {
        selector.kinds = fields
            .list("kinds")?
            .iter()
            .map(|kind| {
                ItemKind::parse(kind)
                    .filter(|kind| *kind != ItemKind::Change)
                    .ok_or_else(|| fields.wrong("kinds", "a list of grant, token, signing_key"))
            })
            .collect::<Result<_, _>>()?;
    }
    selector.role = fields.optional_text("role")?.map(str::to_owned);
    selector.scope = fields.optional_text("scope")?.map(str::to_owned);
    selector.identity_kind = fields
        .optional_text("identity_kind")?
        .map(|text| text.parse::<IdentityKind>().map_err(|_| fields.wrong("identity_kind", "human or service")))
        .transpose()?;
    selector.identity = fields.optional_text("identity")?.map(parsed).transpose()?;
    selector.integration = fields.optional_text("integration")?.map(parsed).transpose()?;
    selector.vendor = fields.optional_text("vendor")?.map(parsed).transpose()?;
    Ok(selector)
}

pub fn definition_to_json(definition: &CampaignDefinition) -> Value {
    let selector = &definition.selector;
    let mut scope = Map::new();
    scope.insert("kinds".into(), json!(selector.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()));
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            scope.insert(key.into(), Value::String(value));
        }
    };
    put("role", selector.role.clone());
    put("scope", selector.scope.clone());
    put("identity_kind", selector.identity_kind.map(|k| k.as_str().to_owned()));
    put("identity", selector.identity.map(|id| id.to_string()));
    put("integration", selector.integration.map(|id| id.to_string()));
    put("vendor", selector.vendor.map(|id| id.to_string()));
    let names = |reviewers: &[Reviewer]| reviewers.iter().map(ToString::to_string).collect::<Vec<_>>();
    let mut out = json!({
        "name": definition.name,
        "scope": scope,
        "reviewers": names(&definition.reviewers),
        "fallback": definition.fallback.to_string(),
        "duration": format_duration(definition.duration),
        "second_stage": names(&definition.second_stage),
        "unused_after": format_duration(definition.unused_after),
    });
    if let Some(recurrence) = definition.recurrence {
        out["recurrence"] = json!(recurrence.to_string());
    }
    if let Some(choice) = definition.on_no_response {
        out["on_no_response"] = json!(choice.as_str());
    }
    out
}

fn ids(list: &[IdentityId]) -> Value {
    json!(list.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn optional_instant(at: Option<OffsetDateTime>) -> Value {
    at.map_or(Value::Null, |at| json!(format_rfc3339(at)))
}

pub fn item_to_json(item: &ReviewItem) -> Value {
    json!({
        "number": item.number,
        "kind": item.kind.as_str(),
        "target": item.target,
        "identity": item.identity.to_string(),
        "identity_name": item.identity_name,
        "role": item.role,
        "scope": item.scope,
        "granted_by": item.granted_by.map(|id| id.to_string()),
        "granted_at": format_rfc3339(item.granted_at),
        "expires_at": optional_instant(item.expires_at),
        "last_used_at": optional_instant(item.last_used_at),
        "privileged": item.privileged,
        "recommendation": {"advice": item.recommendation.advice.as_str(), "reason": item.recommendation.reason},
        "authors": ids(&item.authors),
        "reviewers": ids(&item.reviewers),
        "second_reviewers": ids(&item.second_reviewers),
    })
}

fn id_list(value: &Value, field: &str) -> Result<Vec<IdentityId>, FormError> {
    value[field]
        .as_array()
        .ok_or_else(|| FormError(format!("`{field}` must be a list")))?
        .iter()
        .map(|id| id.as_str().ok_or_else(|| FormError(format!("`{field}` must list ids"))).and_then(parsed))
        .collect()
}

fn optional_instant_of(value: &Value, field: &str) -> Result<Option<OffsetDateTime>, FormError> {
    value[field].as_str().map(|text| instant(text, field)).transpose()
}

fn text_of<'a>(value: &'a Value, field: &str) -> Result<&'a str, FormError> {
    value[field].as_str().ok_or_else(|| FormError(format!("`{field}` must be a string")))
}

/// Reads back what `item_to_json` wrote (the store's column, an export).
pub fn item_from_json(value: &Value) -> Result<ReviewItem, FormError> {
    let recommendation = &value["recommendation"];
    Ok(ReviewItem {
        number: value["number"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| FormError("`number` must be a count".into()))?,
        kind: ItemKind::parse(text_of(value, "kind")?).ok_or_else(|| FormError("unknown item kind".into()))?,
        target: text_of(value, "target")?.to_owned(),
        identity: parsed(text_of(value, "identity")?)?,
        identity_name: text_of(value, "identity_name")?.to_owned(),
        role: value["role"].as_str().map(str::to_owned),
        scope: value["scope"].as_str().map(str::to_owned),
        granted_by: value["granted_by"].as_str().map(parsed).transpose()?,
        granted_at: instant(text_of(value, "granted_at")?, "granted_at")?,
        expires_at: optional_instant_of(value, "expires_at")?,
        last_used_at: optional_instant_of(value, "last_used_at")?,
        privileged: value["privileged"].as_bool().unwrap_or(false),
        recommendation: Recommendation {
            advice: Advice::parse(text_of(recommendation, "advice")?)
                .ok_or_else(|| FormError("unknown advice".into()))?,
            reason: text_of(recommendation, "reason")?.to_owned(),
        },
        authors: id_list(value, "authors")?,
        reviewers: id_list(value, "reviewers")?,
        second_reviewers: id_list(value, "second_reviewers")?,
    })
}

pub fn verdict_to_json(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Keep { until } => json!({"decision": "keep", "until": optional_instant(*until)}),
        Verdict::Narrow { role, scope } => json!({"decision": "narrow", "role": role, "scope": scope}),
        Verdict::Delegate { to } => json!({"decision": "delegate", "to": to.to_string()}),
        other => json!({"decision": other.name()}),
    }
}

/// A reviewer's verdict from the API's decision body
/// (`{decision, until?, role?, scope?, to?}`); `suspend` is a default only.
pub fn verdict_from_json(value: &Value) -> Result<Verdict, FormError> {
    let fields = Fields::of("the decision", value, &["decision", "until", "role", "scope", "to", "reason"])?;
    match fields.text("decision")? {
        "keep" => {
            Ok(Verdict::Keep { until: fields.optional_text("until")?.map(|text| instant(text, "until")).transpose()? })
        }
        "revoke" => Ok(Verdict::Revoke),
        "narrow" => Ok(Verdict::Narrow {
            role: fields.optional_text("role")?.map(str::to_owned),
            scope: fields.optional_text("scope")?.map(str::to_owned),
        }),
        "delegate" => Ok(Verdict::Delegate { to: parsed(fields.text("to")?)? }),
        "suspend" => Err(FormError(super::DecisionError::SuspendByReviewer.to_string())),
        _ => Err(fields.wrong("decision", "keep, revoke, narrow or delegate")),
    }
}

fn stored_verdict(value: &Value) -> Result<Verdict, FormError> {
    match text_of(value, "decision")? {
        "suspend" => Ok(Verdict::Suspend),
        "keep" => Ok(Verdict::Keep { until: optional_instant_of(value, "until")? }),
        "revoke" => Ok(Verdict::Revoke),
        "narrow" => Ok(Verdict::Narrow {
            role: value["role"].as_str().map(str::to_owned),
            scope: value["scope"].as_str().map(str::to_owned),
        }),
        "delegate" => Ok(Verdict::Delegate { to: parsed(text_of(value, "to")?)? }),
        other => Err(FormError(format!("unknown decision `{other}`"))),
    }
}

pub fn decision_to_json(decision: &Decision) -> Value {
    json!({
        "item": decision.item,
        "sequence": decision.sequence,
        "stage": decision.stage,
        "verdict": verdict_to_json(&decision.verdict),
        "reviewer": decision.reviewer.map(|id| id.to_string()),
        "at": format_rfc3339(decision.at),
        "mfa_method": decision.mfa_method,
        "mfa_age_seconds": decision.mfa_age_seconds,
        "shown": decision.shown.as_str(),
        "reason": decision.reason,
    })
}

pub fn decision_from_json(value: &Value) -> Result<Decision, FormError> {
    let count = |field: &str| {
        value[field]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| FormError(format!("`{field}` must be a count")))
    };
    Ok(Decision {
        item: count("item")?,
        sequence: count("sequence")?,
        stage: u8::try_from(count("stage")?).map_err(|_| FormError("`stage` must be 1 or 2".into()))?,
        verdict: stored_verdict(&value["verdict"])?,
        reviewer: value["reviewer"].as_str().map(parsed).transpose()?,
        at: instant(text_of(value, "at")?, "at")?,
        mfa_method: value["mfa_method"].as_str().map(str::to_owned),
        mfa_age_seconds: value["mfa_age_seconds"].as_i64(),
        shown: Advice::parse(text_of(value, "shown")?).ok_or_else(|| FormError("unknown advice".into()))?,
        reason: value["reason"].as_str().unwrap_or_default().to_owned(),
    })
}

pub fn counts_to_json(counts: &Counts) -> Value {
    json!({
        "items": counts.items, "kept": counts.kept, "revoked": counts.revoked, "narrowed": counts.narrowed,
        "suspended": counts.suspended, "defaulted": counts.defaulted, "escalated": counts.escalated,
        "failed": counts.failed,
    })
}

pub fn counts_from_json(value: &Value) -> Counts {
    let n = |field: &str| value[field].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    Counts {
        items: n("items"),
        kept: n("kept"),
        revoked: n("revoked"),
        narrowed: n("narrowed"),
        suspended: n("suspended"),
        defaulted: n("defaulted"),
        escalated: n("escalated"),
        failed: n("failed"),
    }
}

fn digest_of_lines(lines: impl Iterator<Item = Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"[");
    for (i, line) in lines.enumerate() {
        if i > 0 {
            hasher.update(b",");
        }
        hasher.update(canonical_json(&line).as_bytes());
    }
    hasher.update(b"]");
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of the snapshot: the canonical JSON array of its items in
/// number order.
pub fn snapshot_digest(items: &[ReviewItem]) -> String {
    digest_of_lines(items.iter().map(item_to_json))
}

/// Hex SHA-256 of the decisions: the canonical JSON array of every
/// decision, by item then sequence.
pub fn decisions_digest(decisions: &[Decision]) -> String {
    digest_of_lines(decisions.iter().map(decision_to_json))
}
