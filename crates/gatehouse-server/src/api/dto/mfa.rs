//! The JSON shapes of `/api/v1/mfa`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentDto {
    /// Base32; shown once.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The six-digit code from the authenticator app.
    pub code: Option<String>,
    /// A one-time recovery code, instead of `code`.
    pub recovery_code: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodesDto {
    /// One-time codes; shown once, stored hashed.
    pub recovery_codes: Vec<String>,
    pub mfa_verified_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifiedDto {
    pub mfa_verified_at: String,
    pub fresh_until: String,
}
