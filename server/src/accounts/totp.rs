//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) as authenticator apps make them:
//! HMAC-SHA-1, 6 digits, 30-second steps, a base32 secret of 160 bits (RFC 4226's recommended
//! length). A code is accepted one step either side of now (clocks drift) and only for a step
//! later than the last one accepted, so a code seen once is worthless afterwards. Recovery codes
//! are random enough (50 bits each) that a plain SHA-256 is all their storage needs.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted.
const WINDOW: i64 = 1;
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Atelier";

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret as people type it into an app: base32, no padding.
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The code for one time step (RFC 4226 §5.3: dynamic truncation, then the low 6 digits).
pub fn code_at(secret: &[u8], step: i64) -> String {
    // Any key length is valid for HMAC, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return String::new() };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize)
}

fn same(a: &str, b: &str) -> bool {
    // Constant time over the digits, so timing does not tell how much of a guess was right.
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `code` is six digits (spaces aside): a TOTP code rather than a recovery code.
pub fn looks_like_totp(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS as usize && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// The time step `code` belongs to, if it is right within the window around `unix_secs` and
/// newer than `last_step` (the newest already accepted).
pub fn accepted_step(secret: &[u8], code: &str, unix_secs: i64, last_step: i64) -> Option<i64> {
    let code = looks_like_totp(code)?;
    let now = step_at(unix_secs);
    (now - WINDOW..=now + WINDOW).filter(|step| *step > last_step).find(|step| same(&code_at(secret, *step), &code))
}

/// What an authenticator app scans (Key Uri Format): `otpauth://totp/Atelier:label?...`.
pub fn otpauth_uri(secret: &[u8], label: &str) -> String {
    let encode =
        |text: &str| percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        encode(ISSUER),
        encode(label),
        encode_secret(secret),
        encode(ISSUER)
    )
}

/// The URI as an SVG QR code (no script, no external references), or `None` if it cannot be
/// encoded (it always can at this length; the page then shows only the text).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

/// Ten fresh recovery codes, `xxxxx-xxxxx` in lower-case base32 (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            OsRng.fill_bytes(&mut bytes);
            let text = BASE32_NOPAD.encode(&bytes).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// A recovery code as typed (any case, with or without the dash or spaces), as stored: hashed.
pub fn recovery_code_hash(code: &str) -> String {
    let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    crate::platform::crypto::sha256_hex(&normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the last six of the eight digits).
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(secret, step_at(time)), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, step_at(now));
        let step = accepted_step(&secret, &code, now, 0).expect("the current code");
        assert_eq!(accepted_step(&secret, &code, now, step), None, "replayed");
        assert!(accepted_step(&secret, &code_at(&secret, step_at(now) - 1), now, 0).is_some());
        assert!(accepted_step(&secret, &code_at(&secret, step_at(now) + 1), now, 0).is_some());
        assert_eq!(accepted_step(&secret, &code_at(&secret, step_at(now) - 2), now, 0), None, "too old");
        assert_eq!(accepted_step(&secret, "12345", now, 0), None);
        assert_eq!(accepted_step(&secret, &format!(" {} {} ", &code[..3], &code[3..]), now, 0), Some(step));
    }

    #[test]
    fn the_uri_names_the_secret_and_the_qr_code_is_svg() {
        let secret = b"12345678901234567890";
        let uri = otpauth_uri(secret, "ada@example.org");
        assert!(
            uri.starts_with("otpauth://totp/Atelier:ada%40example%2Eorg?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"),
            "{uri}"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && !svg.contains("<script"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_the_same_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<std::collections::BTreeSet<_>>().len(), 10);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(recovery_code_hash(code), recovery_code_hash(&code.to_uppercase().replace('-', " ")));
    }
}
