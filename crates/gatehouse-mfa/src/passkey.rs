//! Passkeys (WebAuthn) as a second factor, pure: a [`PasskeyVerifier`] for
//! one relying party (its id and origin) starts and finishes registration
//! and authentication ceremonies. User verification is required in both;
//! registration excludes the person's existing credentials. What the server
//! keeps between the two halves of a ceremony ([`RegistrationState`],
//! [`AuthenticationState`]) and the credentials themselves
//! ([`StoredPasskey`]) are JSON for the store; the state must stay on the
//! server (a client-held copy, even sealed, could be replayed), and be
//! used once.
//!
//! Wraps webauthn-rs; none of its types leave this module.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
    Webauthn, WebauthnBuilder, WebauthnError,
};

#[cfg(test)]
mod tests;

/// Why a passkey ceremony failed. The response's problems are the
/// client's (4xx); `Configuration` and `CorruptState` are the server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys cannot be configured for relying party `{rp_id}` at `{origin}`: {reason}")]
    Configuration { rp_id: String, origin: String, reason: String },
    #[error("the passkey response is malformed: {0}")]
    MalformedResponse(String),
    #[error("the stored passkey {0} cannot be read")]
    CorruptState(&'static str),
    #[error("the passkey response was made for another origin")]
    WrongOrigin,
    #[error("the passkey response was signed for another relying party")]
    WrongRelyingParty,
    #[error("the passkey response answers another challenge")]
    WrongChallenge,
    #[error("the authenticator did not verify the user (user verification is required)")]
    UserNotVerified,
    #[error("the credential is not one of this person's passkeys")]
    UnknownCredential,
    #[error("the passkey's signature counter did not advance: it may have been cloned")]
    CounterRegressed,
    #[error("the credential is registered already")]
    AlreadyRegistered,
    #[error("the passkey response was refused: {0}")]
    Refused(String),
}

impl From<WebauthnError> for PasskeyError {
    fn from(error: WebauthnError) -> Self {
        match error {
            WebauthnError::InvalidRPOrigin => PasskeyError::WrongOrigin,
            WebauthnError::InvalidRPIDHash => PasskeyError::WrongRelyingParty,
            WebauthnError::MismatchedChallenge => PasskeyError::WrongChallenge,
            WebauthnError::UserNotVerified => PasskeyError::UserNotVerified,
            WebauthnError::CredentialNotFound => PasskeyError::UnknownCredential,
            WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegressed,
            WebauthnError::CredentialExcludedFromRequest => PasskeyError::AlreadyRegistered,
            other => PasskeyError::Refused(other.to_string().to_lowercase()),
        }
    }
}

/// A registered passkey: the public key, its counter and backup flags, as
/// JSON for storage.
#[derive(Debug, Clone)]
pub struct StoredPasskey(Passkey);

impl StoredPasskey {
    /// The credential id, base64url without padding (as browsers show it).
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.cred_id().as_ref() as &[u8])
    }

    pub fn to_json(&self) -> String {
        // A `Passkey` is plain data: serialising it cannot fail.
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Result<Self, PasskeyError> {
        serde_json::from_str(json).map(StoredPasskey).map_err(|_| PasskeyError::CorruptState("credential"))
    }

    /// The signature counter as of the last use (0 for authenticators that
    /// keep none, as synced passkeys usually do).
    pub fn counter(&self) -> u32 {
        serde_json::to_value(&self.0)
            .ok()
            .and_then(|v| v.get("cred").and_then(|c| c.get("counter")).and_then(Value::as_u64))
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0)
    }
}

/// The server's half of a registration ceremony, kept until it finishes.
#[derive(Debug, Clone)]
pub struct RegistrationState(PasskeyRegistration);

/// The server's half of an authentication ceremony, kept until it finishes.
#[derive(Debug, Clone)]
pub struct AuthenticationState(PasskeyAuthentication);

macro_rules! state_json {
    ($type:ident, $what:literal) => {
        impl $type {
            pub fn to_json(&self) -> String {
                serde_json::to_string(&self.0).unwrap_or_default()
            }

            pub fn from_json(json: &str) -> Result<Self, PasskeyError> {
                serde_json::from_str(json).map($type).map_err(|_| PasskeyError::CorruptState($what))
            }
        }
    };
}

state_json!(RegistrationState, "registration state");
state_json!(AuthenticationState, "authentication state");

/// The person a passkey is registered for, as the authenticator sees
/// them: a stable handle (never shown) and names it may display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUser<'a> {
    pub handle: Uuid,
    pub name: &'a str,
    pub display_name: &'a str,
}

/// What a successful authentication proved, and the credential as it
/// should now be stored (counter and backup flags updated).
#[derive(Debug, Clone)]
pub struct PasskeyUse {
    pub credential: StoredPasskey,
    /// Whether anything in `credential` changed and should be written.
    pub changed: bool,
}

/// A relying party's passkey ceremonies.
#[derive(Debug, Clone)]
pub struct PasskeyVerifier {
    webauthn: std::sync::Arc<Webauthn>,
    rp_id: String,
    origin: Url,
}

impl PasskeyVerifier {
    /// For relying-party id `rp_id` (a host name; WebAuthn refuses IP
    /// addresses) and the one origin responses must come from.
    pub fn new(rp_id: &str, origin: &Url) -> Result<Self, PasskeyError> {
        let configuration = |reason: String| PasskeyError::Configuration {
            rp_id: rp_id.to_owned(),
            origin: origin.to_string(),
            reason,
        };
        if rp_id.parse::<std::net::IpAddr>().is_ok() || rp_id.starts_with('[') {
            return Err(configuration("an IP address cannot be a relying-party id; use a host name".into()));
        }
        let webauthn = WebauthnBuilder::new(rp_id, origin)
            .and_then(|builder| builder.rp_name("gatehouse").build())
            .map_err(|e| configuration(e.to_string().to_lowercase()))?;
        Ok(Self { webauthn: std::sync::Arc::new(webauthn), rp_id: rp_id.to_owned(), origin: origin.clone() })
    }

    /// From the server's public URL: the relying-party id is its host, the
    /// origin its scheme, host and port.
    pub fn for_public_url(url: &Url) -> Result<Self, PasskeyError> {
        let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|e| PasskeyError::Configuration {
            rp_id: String::new(),
            origin: url.to_string(),
            reason: e.to_string(),
        })?;
        let host = url.host_str().unwrap_or_default();
        Self::new(host, &origin)
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    pub fn origin(&self) -> &Url {
        &self.origin
    }

    /// Starts registering a passkey for `user`, excluding `existing` ones
    /// (an authenticator holding one of them refuses). Returns the options
    /// for the browser (`PublicKeyCredential.parseCreationOptionsFromJSON`)
    /// and the state to keep.
    pub fn start_registration(
        &self,
        user: &PasskeyUser<'_>,
        existing: &[StoredPasskey],
    ) -> Result<(Value, RegistrationState), PasskeyError> {
        let exclude = existing.iter().map(|p| p.0.cred_id().clone()).collect::<Vec<_>>();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (challenge, state) =
            self.webauthn.start_passkey_registration(user.handle, user.name, user.display_name, exclude)?;
        let options = serde_json::to_value(&challenge.public_key).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok((options, RegistrationState(state)))
    }

    /// Whether `response` has the shape of a registration response, checked
    /// before a ceremony is spent on it.
    pub fn check_registration_response(response: &Value) -> Result<(), PasskeyError> {
        serde_json::from_value::<RegisterPublicKeyCredential>(response.clone())
            .map(drop)
            .map_err(|e| PasskeyError::MalformedResponse(e.to_string()))
    }

    /// Finishes a registration with the browser's `credential.toJSON()`.
    pub fn finish_registration(
        &self,
        state: &RegistrationState,
        response: &Value,
    ) -> Result<StoredPasskey, PasskeyError> {
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|e| PasskeyError::MalformedResponse(e.to_string()))?;
        Ok(StoredPasskey(self.webauthn.finish_passkey_registration(&response, &state.0)?))
    }

    /// Starts an authentication with any of `credentials` (the person's
    /// passkeys). Returns the options for the browser
    /// (`PublicKeyCredential.parseRequestOptionsFromJSON`) and the state.
    pub fn start_authentication(
        &self,
        credentials: &[StoredPasskey],
    ) -> Result<(Value, AuthenticationState), PasskeyError> {
        if credentials.is_empty() {
            return Err(PasskeyError::UnknownCredential);
        }
        let passkeys: Vec<Passkey> = credentials.iter().map(|p| p.0.clone()).collect();
        let (challenge, state) = self.webauthn.start_passkey_authentication(&passkeys)?;
        let options = serde_json::to_value(&challenge.public_key).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok((options, AuthenticationState(state)))
    }

    /// The credential id a response names, to find its stored passkey
    /// before [`PasskeyVerifier::finish_authentication`].
    pub fn response_credential_id(response: &Value) -> Result<String, PasskeyError> {
        let response: PublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|e| PasskeyError::MalformedResponse(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(response.raw_id.as_ref() as &[u8]))
    }

    /// Finishes an authentication with the browser's `credential.toJSON()`
    /// against `current`, the stored passkey it names as stored now (the
    /// state holds a copy from the start, which a concurrent use may have
    /// outdated: the counter is checked against both).
    pub fn finish_authentication(
        &self,
        state: &AuthenticationState,
        response: &Value,
        current: &StoredPasskey,
    ) -> Result<PasskeyUse, PasskeyError> {
        let response: PublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|e| PasskeyError::MalformedResponse(e.to_string()))?;
        let result = self.webauthn.finish_passkey_authentication(&response, &state.0)?;
        if !result.user_verified() {
            return Err(PasskeyError::UserNotVerified);
        }
        let stored = current.counter();
        if (result.counter() > 0 || stored > 0) && result.counter() <= stored {
            return Err(PasskeyError::CounterRegressed);
        }
        let mut credential = current.clone();
        let changed = credential.0.update_credential(&result).ok_or(PasskeyError::UnknownCredential)?;
        Ok(PasskeyUse { credential, changed })
    }
}
