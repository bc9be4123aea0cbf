//! Webhook signatures, in and out: Stripe's `Stripe-Signature`, Meta's `X-Hub-Signature-256` and
//! subscription handshake, and the signature of the leads the gateway forwards to a tenant's CRM.
//!
//! Rules followed:
//! - Stripe ("Check the webhook signatures"): `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]
//!   [,v0=…]`; the expected signature is the hex HMAC-SHA256, keyed with the endpoint's signing
//!   secret (`whsec_…`, used whole), of `"{t}.{raw body}"`; any one `v1` may match (several are
//!   sent while a secret is being rolled); `v0` is Stripe's test scheme and is ignored; the
//!   timestamp must be within 5 minutes of now, so a captured request cannot be replayed later;
//!   comparison is in constant time; nothing is parsed before the signature holds.
//! - Meta ("Webhooks", "Getting started"): the subscription is verified with `GET
//!   ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`, answered with the challenge (200,
//!   plain text) only when the token is the one configured; each notification carries
//!   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>`.
//! - Our forward to a tenant's CRM: `X-Pixelgate-Signature: t=<unix>,v1=<hex>`, the same scheme
//!   as Stripe's (HMAC-SHA256 of `"{t}.{body}"` with the tenant's signing secret), so a CRM checks
//!   it the way it would check Stripe's.

use super::hash::hmac_sha256;
use super::secrets::constant_time_eq;

/// How far a signed timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (never says what was expected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    /// Outside the 5-minute tolerance.
    Stale,
    Mismatch,
}

impl SignatureError {
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::Missing => "the signature header is missing",
            SignatureError::Malformed => "the signature header is malformed",
            SignatureError::Stale => "the signature's timestamp is more than 5 minutes from now",
            SignatureError::Mismatch => "no signature matches the payload and the secret",
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Hex HMAC-SHA256 of `"{t}.{body}"`: Stripe's `v1`, and our CRM forward's.
pub fn timestamped_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(body.len() + 12);
    message.extend_from_slice(t.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    hex(&hmac_sha256(secret.as_bytes(), &message))
}

/// The header value of a timestamped signature: `t=<unix>,v1=<hex>`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", timestamped_signature(secret, t, body))
}

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => candidates.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = timestamped_signature(secret, t, body);
    // Every candidate is compared, matched or not, so the time taken says nothing.
    let matched = candidates
        .iter()
        .fold(false, |ok, c| constant_time_eq(c, &expected) | ok);
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks Meta's `X-Hub-Signature-256: sha256=<hex>` against the raw body.
pub fn verify_meta(
    header: Option<&str>,
    body: &[u8],
    app_secret: &str,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).ok_or(SignatureError::Missing)?;
    let given = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex(&hmac_sha256(app_secret.as_bytes(), body));
    if constant_time_eq(&given.to_ascii_lowercase(), &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Meta's subscription handshake: the challenge to echo, when mode and token are right.
pub fn meta_handshake<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &str,
) -> Option<&'a str> {
    let token_ok =
        token.is_some_and(|t| !expected_token.is_empty() && constant_time_eq(t, expected_token));
    (mode == Some("subscribe") && token_ok).then_some(challenge?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const T: i64 = 1_760_000_000;

    #[test]
    fn stripe_signature_is_the_hmac_of_t_dot_body() {
        // The value Python's hmac.new(secret, b"1760000000." + body, sha256).hexdigest() gives.
        let sig = timestamped_signature(SECRET, T, BODY);
        assert_eq!(
            sig,
            "bfcb160317277f672467770c8d4c4adb91c8bde69c80639e104b79ce94253bda"
        );
        let header = signature_header(SECRET, T, BODY);
        assert_eq!(header, format!("t={T},v1={sig}"));
        assert_eq!(verify_stripe(Some(&header), BODY, SECRET, T + 10), Ok(()));
        // Several v1 (a secret being rolled) and a v0: one match is enough.
        let rolled = format!("t={T},v1={},v1={sig},v0=abc", "0".repeat(64));
        assert_eq!(verify_stripe(Some(&rolled), BODY, SECRET, T), Ok(()));
    }

    #[test]
    fn stripe_refusals() {
        let good = signature_header(SECRET, T, BODY);
        assert_eq!(
            verify_stripe(None, BODY, SECRET, T),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe(Some("garbage"), BODY, SECRET, T),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_stripe(Some("t=1"), BODY, SECRET, T),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_stripe(Some(&good), BODY, SECRET, T + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(Some(&good), BODY, SECRET, T - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(Some(&good), b"{\"id\":\"evt_2\"}", SECRET, T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(Some(&good), BODY, "whsec_other", T),
            Err(SignatureError::Mismatch)
        );
        // A stale timestamp with a fresh-looking body is still stale: replays are refused.
        let old = signature_header(SECRET, T - 3600, BODY);
        assert_eq!(
            verify_stripe(Some(&old), BODY, SECRET, T),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn meta_signature_and_handshake() {
        let sig = "sha256=ac74fa6009fe5a10fc7517737cff81361e1d683282cd97366400c08b83c5a16d";
        assert_eq!(verify_meta(Some(sig), BODY, "app-secret"), Ok(()));
        assert_eq!(
            verify_meta(
                Some(&sig.to_uppercase().replace("SHA256=", "sha256=")),
                BODY,
                "app-secret"
            ),
            Ok(())
        );
        assert_eq!(
            verify_meta(Some(sig), b"{}", "app-secret"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_meta(Some("sha1=abc"), BODY, "app-secret"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_meta(None, BODY, "app-secret"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            meta_handshake(Some("subscribe"), Some("tok"), Some("123"), "tok"),
            Some("123")
        );
        assert_eq!(
            meta_handshake(Some("subscribe"), Some("bad"), Some("123"), "tok"),
            None
        );
        assert_eq!(
            meta_handshake(Some("unsubscribe"), Some("tok"), Some("123"), "tok"),
            None
        );
        assert_eq!(
            meta_handshake(Some("subscribe"), Some(""), Some("123"), ""),
            None,
            "no token configured"
        );
    }
}
