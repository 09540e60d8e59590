//! The filters IdPs send to find a resource before creating it:
//! `ATTRIBUTE eq "VALUE"`, where ATTRIBUTE is one gatehouse indexes
//! (`userName`, `externalId`, `displayName`, `id`). Attribute names and
//! `eq` are case-insensitive; values compare case-insensitively for
//! `userName` (RFC 7643 makes it so) and exactly otherwise.

use super::ScimError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The attribute, as gatehouse spells it.
    pub attribute: &'static str,
    pub value: String,
}

pub fn parse_filter(text: &str, allowed: &[&'static str]) -> Result<Filter, ScimError> {
    let text = text.trim();
    let (attribute, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| ScimError::invalid_filter(format!("cannot read filter `{text}`")))?;
    let (operator, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(|| ScimError::invalid_filter(format!("cannot read filter `{text}`")))?;
    if !operator.eq_ignore_ascii_case("eq") {
        return Err(ScimError::invalid_filter(format!("only `eq` filters are supported, not `{operator}`")));
    }
    let attribute = allowed.iter().find(|known| known.eq_ignore_ascii_case(attribute)).ok_or_else(|| {
        ScimError::invalid_filter(format!("cannot filter on `{attribute}` (try {})", allowed.join(", ")))
    })?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| ScimError::invalid_filter("the value must be a quoted string"))?;
    if value.contains('"') && !value.contains("\\\"") {
        return Err(ScimError::invalid_filter("only one comparison per filter is supported"));
    }
    Ok(Filter { attribute, value: value.replace("\\\"", "\"").replace("\\\\", "\\") })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: [&str; 3] = ["userName", "externalId", "id"];

    #[test]
    fn what_okta_and_entra_send() {
        assert_eq!(
            parse_filter(r#"userName eq "ana@example.com""#, &USER).unwrap(),
            Filter { attribute: "userName", value: "ana@example.com".into() }
        );
        assert_eq!(parse_filter(r#"externalId EQ "00u1""#, &USER).unwrap().attribute, "externalId");
        assert_eq!(parse_filter(r#"USERNAME eq "a\"b""#, &USER).unwrap().value, "a\"b");
        assert_eq!(
            parse_filter(r#"displayName eq "release-managers""#, &["displayName"]).unwrap().value,
            "release-managers"
        );
    }

    #[test]
    fn anything_else_is_an_invalid_filter() {
        for bad in [
            "",
            "userName",
            r#"userName sw "a""#,
            r#"title eq "x""#,
            "userName eq unquoted",
            r#"userName eq "a" and externalId eq "b""#,
        ] {
            let error = parse_filter(bad, &USER).unwrap_err();
            assert_eq!((error.status, error.scim_type), (400, Some("invalidFilter")), "{bad}");
        }
    }
}
