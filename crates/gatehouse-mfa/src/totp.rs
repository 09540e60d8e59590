//! TOTP per RFC 6238 as authenticator apps implement it.

use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const DIGITS: u8 = 6;
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of now (clock drift).
pub const SKEW: u16 = 1;
const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is not valid")]
    Invalid,
    #[error("this code was used already; wait for the next one")]
    Replayed,
}

/// A TOTP secret (160 random bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

// The secret is wiped from memory when dropped (totp-rs's own copies too,
// through its `zeroize` feature).
impl zeroize::Zeroize for TotpSecret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

impl zeroize::ZeroizeOnDrop for TotpSecret {}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// What an enrolling person is shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::fill(bytes.as_mut_slice());
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// From the base32 text an app is given; `None` if it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        Secret::try_from_base32(text).ok().map(|secret| Self(secret.as_ref().to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    fn totp(&self, issuer: Option<&str>, account: &str) -> Totp {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0.clone())
            .with_issuer(issuer.map(str::to_owned))
            .with_account_name(account.to_owned())
            .build_noncompliant()
    }

    /// The URI and QR code an authenticator app scans.
    pub fn enrollment(&self, issuer: &str, account: &str) -> Enrollment {
        let otpauth_uri = self.totp(Some(issuer), account).to_url().unwrap_or_default();
        let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
            .map(|code| code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
            .unwrap_or_default();
        Enrollment { secret: self.base32(), otpauth_uri, qr_svg }
    }

    /// The code for `unix_time`.
    pub fn code_at(&self, unix_time: u64) -> String {
        self.totp(None, "").generate(unix_time).to_string()
    }

    /// Checks `code` at `unix_time` (one step of drift either way) and
    /// returns the step it matched. A step at or before `last_used_step`
    /// is a replay.
    pub fn verify(&self, code: &str, unix_time: u64, last_used_step: Option<u64>) -> Result<u64, CodeError> {
        let code = code.trim();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::Invalid);
        }
        let step = self.totp(None, "").check(code, unix_time).ok_or(CodeError::Invalid)?;
        if last_used_step.is_some_and(|last| step <= last) {
            return Err(CodeError::Replayed);
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_wiped_from_memory() {
        fn wiped_when_dropped<T: zeroize::ZeroizeOnDrop>() {}
        wiped_when_dropped::<TotpSecret>();
        let mut secret = TotpSecret::generate();
        zeroize::Zeroize::zeroize(&mut secret);
        assert!(secret.as_bytes().is_empty());
    }

    /// RFC 6238 Appendix B, SHA-1 rows: the algorithm underneath, at the
    /// RFC's eight digits.
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let rfc = |time: u64| {
            Builder::new()
                .with_algorithm(Algorithm::SHA1)
                .with_digits(8)
                .with_step_duration(30)
                .with_secret(secret.clone())
                .build_noncompliant()
                .generate(time)
                .to_string()
        };
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(rfc(time), expected, "T = {time}");
        }
        // The same secret at six digits is the last six of the eight.
        assert_eq!(TotpSecret::from_bytes(secret).code_at(59), "287082");
    }

    #[test]
    fn drift_of_one_step_and_no_more_and_no_replay() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let code = secret.code_at(now);
        let step = secret.verify(&code, now, None).unwrap();
        assert_eq!(step, now / 30);
        assert!(secret.verify(&code, now + 30, None).is_ok());
        assert!(secret.verify(&code, now - 30, None).is_ok());
        assert_eq!(secret.verify(&code, now + 90, None), Err(CodeError::Invalid));
        assert_eq!(secret.verify(&code, now, Some(step)), Err(CodeError::Replayed));
        for bad in ["", "12345", "1234567", "abcdef", " 12 34 "] {
            assert_eq!(secret.verify(bad, now, None), Err(CodeError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn enrollment_shows_the_secret_uri_and_qr_code() {
        let secret = TotpSecret::generate();
        let enrollment = secret.enrollment("gatehouse", "ana@example.com");
        assert_eq!(enrollment.secret.len(), 32);
        assert!(
            enrollment.otpauth_uri.starts_with("otpauth://totp/gatehouse:ana%40example.com?"),
            "{}",
            enrollment.otpauth_uri
        );
        assert!(enrollment.otpauth_uri.contains(&format!("secret={}", enrollment.secret)));
        assert!(enrollment.qr_svg.contains("<svg"));
        assert!(!format!("{secret:?}").contains(&enrollment.secret));
    }

    /// A code computed by an independent implementation (oathtool) passes.
    #[test]
    fn oathtool_codes_are_accepted() {
        let secret = TotpSecret::generate();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let output = std::process::Command::new("oathtool")
            .args(["--totp", "-b", &secret.base32()])
            .output()
            .expect("oathtool runs (apt-get install oathtool)");
        assert!(output.status.success());
        let code = String::from_utf8(output.stdout).unwrap();
        assert!(secret.verify(code.trim(), now, None).is_ok(), "oathtool said {code}");
    }
}
