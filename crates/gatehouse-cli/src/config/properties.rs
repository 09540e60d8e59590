//! Property tests of configuration parsing: whatever the config file and
//! the environment hold, `Config::resolve` ends in a configuration or a
//! named configuration error (exit 2), never a panic.

use std::collections::HashMap;

use clap::Parser;
use proptest::prelude::*;

use super::*;
use crate::args::Cli;

struct MapEnvironment(HashMap<String, String>);

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn resolve_text(file: &str, environment: HashMap<String, String>) -> CliResult<Config> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gatehouse.toml"), file).unwrap();
    let cli = Cli::try_parse_from(["gatehouse", "--data-dir", dir.path().to_str().unwrap(), "whoami"]).unwrap();
    Config::resolve(&cli.global, None, &MapEnvironment(environment))
}

#[track_caller]
fn assert_resolves_or_names_the_problem(result: CliResult<Config>) {
    match result {
        Ok(config) => assert_lifetimes_fit(&config),
        Err(error) => {
            assert_eq!(error.code, 2, "{error}");
            assert!(!error.message.is_empty());
        }
    }
}

/// A TOML value of any type, with the edges of each.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "60",
            "1440",
            "9223372036854775807",
            "-9223372036854775808",
            "4294967296",
            "18446744073709551615",
            "1e400",
            "nan",
            "true",
            "false",
            "[]",
            "{}",
            "[\"\"]",
            "[1, 2]",
            "\"\"",
            "\"https://idp.example.com\"",
            "\"http://127.0.0.1:9\"",
            "\"file:\"",
            "\"stdout\"",
            "\"json\"",
            "\"text\"",
            "1979-05-27T07:32:00Z",
            "{ a = 1 }",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        ".{0,12}".prop_map(|s| format!("{s:?}")),
    ]
}

/// A config file assembled from the real sections and keys (and a few
/// wrong ones), each with a value of any type.
fn near_valid_file() -> impl Strategy<Value = String> {
    let entry = (0..KEYS.len() + 2, toml_value());
    prop::collection::vec(entry, 0..16).prop_map(|entries| {
        let mut sections: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (which, value) in entries {
            let (section, key) = match KEYS.get(which) {
                Some(&(section, key, _)) => (section, key),
                None if which == KEYS.len() => ("oidc", "surprise"),
                None => ("nonsense", "key"),
            };
            sections.entry(section).or_default().push(format!("{key} = {value}"));
        }
        let mut text = sections.remove("").unwrap_or_default().join("\n");
        for (section, lines) in sections {
            text.push_str(&format!("\n[{section}]\n{}\n", lines.join("\n")));
        }
        text
    })
}

/// A complete `[oidc]` section, so the checks after presence are reached.
fn oidc_section() -> impl Strategy<Value = String> {
    (integer_edges(), integer_edges(), any::<bool>()).prop_map(|(idle, hours, provision)| {
        format!(
            "[oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"gatehouse\"\nclient_secret = \"s\"\n\
             redirect_url = \"https://gatehouse.example.com/auth/callback\"\nsession_idle_minutes = {idle}\n\
             session_hours = {hours}\nauto_provision = {provision}\n"
        )
    })
}

/// Integers near the edges that multiplication and date arithmetic meet.
fn integer_edges() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MAX / 60),
        Just(i64::MAX / 3600),
        Just(i64::MAX / 1_000_000_000),
        Just(u32::MAX.into()),
        Just(i64::MIN),
        0..100_000i64,
        any::<i64>(),
    ]
}

/// Every lifetime a resolved configuration allows, added to today, stays
/// inside the calendar (`OffsetDateTime + Duration` panics otherwise).
fn assert_lifetimes_fit(config: &Config) {
    let now = time::OffsetDateTime::now_utc();
    for seconds in [config.max_ttl_seconds, config.bootstrap_ttl_seconds] {
        assert!(now.checked_add(time::Duration::seconds(seconds)).is_some(), "{seconds} s overflows");
    }
    if let Some(oidc) = &config.oidc {
        for lifetime in [oidc.session_idle, oidc.session_absolute] {
            let lifetime = time::Duration::try_from(lifetime).unwrap();
            assert!(now.checked_add(lifetime).is_some(), "{lifetime} overflows");
        }
    }
}

fn environment() -> impl Strategy<Value = HashMap<String, String>> {
    let value = prop_oneof![
        ".{0,16}",
        prop::sample::select(vec!["true", "0", "yes", "18446744073709551615", "-5", ",", "a,,b", " 60 "])
            .prop_map(str::to_owned),
    ];
    prop::collection::hash_map((0..KEYS.len()).prop_map(|i| env_name(KEYS[i].0, KEYS[i].1)), value, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_as_a_config_file_resolves_or_is_a_config_error(text in "(.|\n|\\[|=|\"){0,200}") {
        assert_resolves_or_names_the_problem(resolve_text(&text, HashMap::new()));
    }

    #[test]
    fn near_valid_config_files_resolve_or_are_config_errors(text in near_valid_file(), env in environment()) {
        assert_resolves_or_names_the_problem(resolve_text(&text, env));
    }

    #[test]
    fn any_token_lifetimes_resolve_or_are_config_errors(max in integer_edges(), bootstrap in integer_edges()) {
        let text = format!("[tokens]\nmax_ttl_seconds = {max}\nbootstrap_ttl_seconds = {bootstrap}\n");
        assert_resolves_or_names_the_problem(resolve_text(&text, HashMap::new()));
    }

    #[test]
    fn any_oidc_session_lengths_resolve_or_are_config_errors(text in oidc_section()) {
        assert_resolves_or_names_the_problem(resolve_text(&text, HashMap::new()));
    }
}

/// Shrunk from `any_oidc_session_lengths_resolve_or_are_config_errors`:
/// `session_hours = 9223372036854775807` overflowed `hours * 60` and
/// panicked at startup (and a large value that did not overflow there
/// would have at each login, in `now + session`).
#[test]
fn an_enormous_session_length_is_a_config_error() {
    for hours in ["9223372036854775807", "307445734561825860", "8785"] {
        let text = format!(
            "[oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"gatehouse\"\nclient_secret = \"s\"\n\
             redirect_url = \"https://gatehouse.example.com/auth/callback\"\nsession_idle_minutes = 60\n\
             session_hours = {hours}\n"
        );
        let error = resolve_text(&text, HashMap::new()).err().unwrap();
        assert_eq!(error.code, 2);
        assert!(error.message.contains("session_hours must be between 1 and 8784"), "{error}");
    }
    let idle = HashMap::from([("GATEHOUSE_OIDC_SESSION_IDLE_MINUTES".to_owned(), "9223372036854775807".to_owned())]);
    let text = "[oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
                redirect_url = \"https://gatehouse.example.com/auth/callback\"\n";
    assert!(resolve_text(text, idle).err().unwrap().message.contains("within session_hours"));
}

/// Shrunk from `any_token_lifetimes_resolve_or_are_config_errors`: a
/// `max_ttl_seconds` (and so `bootstrap_ttl_seconds`) past the calendar was
/// accepted, and `gatehouse init` then panicked on `now + ttl`, as would
/// `POST /api/v1/tokens` asking for such a lifetime.
#[test]
fn a_token_lifetime_past_the_calendar_is_a_config_error() {
    for max in ["9223372036854775807", "316224001"] {
        let text = format!("[tokens]\nmax_ttl_seconds = {max}\nbootstrap_ttl_seconds = {max}\n");
        let error = resolve_text(&text, HashMap::new()).err().unwrap();
        assert!(error.message.contains("max_ttl_seconds must be between 60 and 316224000"), "{error}");
    }
    let ten_years = "[tokens]\nmax_ttl_seconds = 316224000\nbootstrap_ttl_seconds = 316224000\n";
    assert_lifetimes_fit(&resolve_text(ten_years, HashMap::new()).unwrap());
}
