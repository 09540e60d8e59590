use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::*;

fn origin() -> Url {
    Url::parse("https://gatehouse.example.com").unwrap()
}

fn verifier() -> PasskeyVerifier {
    PasskeyVerifier::for_public_url(&Url::parse("https://gatehouse.example.com/some/path").unwrap()).unwrap()
}

fn user() -> PasskeyUser<'static> {
    PasskeyUser { handle: Uuid::from_u128(7), name: "ana@example.com", display_name: "Ana" }
}

/// The browser: `navigator.credentials.create()` at `at`, then `toJSON()`.
fn create(authenticator: &mut SoftPasskey, at: &Url, options: &Value) -> Result<Value, String> {
    let options: CreationChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    authenticator
        .do_registration(at.clone(), options)
        .map(|credential| serde_json::to_value(credential).unwrap())
        .map_err(|e| format!("{e:?}"))
}

/// The browser: `navigator.credentials.get()` at `at`, then `toJSON()`.
fn get(authenticator: &mut SoftPasskey, at: &Url, options: &Value) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    serde_json::to_value(authenticator.do_authentication(at.clone(), options).unwrap()).unwrap()
}

fn registered(authenticator: &mut SoftPasskey) -> StoredPasskey {
    let verifier = verifier();
    let (options, state) = verifier.start_registration(&user(), &[]).unwrap();
    let response = create(authenticator, &origin(), &options).unwrap();
    verifier.finish_registration(&state, &response).unwrap()
}

#[test]
fn the_relying_party_comes_from_the_public_url() {
    let verifier = verifier();
    assert_eq!(verifier.rp_id(), "gatehouse.example.com");
    assert_eq!(verifier.origin().as_str(), "https://gatehouse.example.com/");
    let local = PasskeyVerifier::for_public_url(&Url::parse("http://localhost:8080/x").unwrap()).unwrap();
    assert_eq!((local.rp_id(), local.origin().as_str()), ("localhost", "http://localhost:8080/"));
}

#[test]
fn an_ip_address_is_no_relying_party() {
    let refused = PasskeyVerifier::for_public_url(&Url::parse("http://127.0.0.1:8080").unwrap()).unwrap_err();
    assert!(matches!(refused, PasskeyError::Configuration { .. }), "{refused:?}");
    assert!(refused.to_string().contains("IP address"), "{refused}");
}

#[test]
fn registration_requires_user_verification_and_excludes_existing_credentials() {
    let mut authenticator = SoftPasskey::new(true);
    let first = registered(&mut authenticator);
    let (options, _) = verifier().start_registration(&user(), std::slice::from_ref(&first)).unwrap();
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(options["rp"]["id"], "gatehouse.example.com");
    assert_eq!(options["excludeCredentials"][0]["id"], first.credential_id());
}

#[test]
fn a_registered_passkey_authenticates_and_its_counter_advances() {
    let mut authenticator = SoftPasskey::new(true);
    let passkey = registered(&mut authenticator);
    let passkey = StoredPasskey::from_json(&passkey.to_json()).unwrap();
    assert_eq!(passkey.counter(), 0);
    let verifier = verifier();
    let (options, state) = verifier.start_authentication(std::slice::from_ref(&passkey)).unwrap();
    assert_eq!(options["userVerification"], "required");
    let state = AuthenticationState::from_json(&state.to_json()).unwrap();
    let response = get(&mut authenticator, &origin(), &options);
    assert_eq!(PasskeyVerifier::response_credential_id(&response).unwrap(), passkey.credential_id());
    let used = verifier.finish_authentication(&state, &response, &passkey).unwrap();
    assert!(used.changed);
    assert_eq!(used.credential.counter(), 1);
    assert_eq!(used.credential.credential_id(), passkey.credential_id());
}

#[test]
fn a_replayed_assertion_is_refused() {
    let mut authenticator = SoftPasskey::new(true);
    let passkey = registered(&mut authenticator);
    let verifier = verifier();
    let (options, state) = verifier.start_authentication(std::slice::from_ref(&passkey)).unwrap();
    let response = get(&mut authenticator, &origin(), &options);
    let used = verifier.finish_authentication(&state, &response, &passkey).unwrap();
    // Against a new challenge:
    let (_, fresh) = verifier.start_authentication(std::slice::from_ref(&used.credential)).unwrap();
    assert_eq!(
        verifier.finish_authentication(&fresh, &response, &used.credential).unwrap_err(),
        PasskeyError::WrongChallenge
    );
    // Against its own challenge again (the state kept by mistake): the
    // stored counter has moved past it.
    assert_eq!(
        verifier.finish_authentication(&state, &response, &used.credential).unwrap_err(),
        PasskeyError::CounterRegressed
    );
}

#[test]
fn a_response_from_another_origin_is_refused() {
    let mut authenticator = SoftPasskey::new(true);
    let passkey = registered(&mut authenticator);
    let verifier = verifier();
    // A page on a subdomain may use the relying party's id, but its origin
    // is not gatehouse's.
    let phishing = Url::parse("https://pages.gatehouse.example.com").unwrap();
    let (options, state) = verifier.start_authentication(std::slice::from_ref(&passkey)).unwrap();
    let response = get(&mut authenticator, &phishing, &options);
    assert_eq!(verifier.finish_authentication(&state, &response, &passkey).unwrap_err(), PasskeyError::WrongOrigin);
    let (options, state) = verifier.start_registration(&user(), &[]).unwrap();
    let response = create(&mut SoftPasskey::new(true), &phishing, &options).unwrap();
    assert_eq!(verifier.finish_registration(&state, &response).unwrap_err(), PasskeyError::WrongOrigin);
}

#[test]
fn a_client_that_skips_user_verification_is_refused() {
    let mut authenticator = SoftPasskey::new(true);
    let passkey = registered(&mut authenticator);
    let verifier = verifier();
    let (mut options, state) = verifier.start_authentication(std::slice::from_ref(&passkey)).unwrap();
    // The client ignores the request for user verification; the state
    // kept on the server still requires it.
    options["userVerification"] = json!("discouraged");
    let response = get(&mut authenticator, &origin(), &options);
    assert_eq!(verifier.finish_authentication(&state, &response, &passkey).unwrap_err(), PasskeyError::UserNotVerified);

    let (mut options, state) = verifier.start_registration(&user(), &[]).unwrap();
    options["authenticatorSelection"]["userVerification"] = json!("discouraged");
    let response = create(&mut SoftPasskey::new(true), &origin(), &options).unwrap();
    assert_eq!(verifier.finish_registration(&state, &response).unwrap_err(), PasskeyError::UserNotVerified);
}

#[test]
fn an_authenticator_without_user_verification_cannot_register() {
    let (options, _) = verifier().start_registration(&user(), &[]).unwrap();
    assert!(create(&mut SoftPasskey::new(false), &origin(), &options).is_err());
}

#[test]
fn malformed_responses_and_states_are_refused() {
    let verifier = verifier();
    let (_, state) = verifier.start_registration(&user(), &[]).unwrap();
    let refused = verifier.finish_registration(&state, &json!({"id": 1})).unwrap_err();
    assert!(matches!(refused, PasskeyError::MalformedResponse(_)), "{refused:?}");
    assert!(matches!(PasskeyVerifier::response_credential_id(&json!([])), Err(PasskeyError::MalformedResponse(_))));
    assert_eq!(StoredPasskey::from_json("{}").unwrap_err(), PasskeyError::CorruptState("credential"));
    assert!(RegistrationState::from_json("null").is_err());
    assert_eq!(verifier.start_authentication(&[]).unwrap_err(), PasskeyError::UnknownCredential);
}
