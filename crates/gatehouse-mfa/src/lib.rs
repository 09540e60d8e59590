//! Multi-factor authentication, pure: TOTP codes (RFC 6238: SHA-1, six
//! digits, 30-second steps, one step either side) with the matched step
//! returned so callers refuse replays; the `otpauth://` URI and its QR code
//! as SVG for enrollment; one-time recovery codes, kept hashed; and TOTP
//! secrets sealed for storage with a key from the data dir; passkeys
//! (WebAuthn ceremonies, their state and credentials as JSON).

pub mod passkey;
pub mod recovery;
pub mod seal;
pub mod totp;

pub use passkey::{
    AuthenticationState, PasskeyError, PasskeyUse, PasskeyUser, PasskeyVerifier, RegistrationState, StoredPasskey,
};
pub use recovery::{RecoveryCodes, hash_recovery_code};
pub use seal::{SealError, SealingKey};
pub use totp::{CodeError, Enrollment, TotpSecret};
