//! AES-256-GCM for platform tokens at rest, and API key hashing. Randomness comes from the caller
//! so this stays pure and testable.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::hash::sha256_hex;

/// Stored form: "v1:" + base64(nonce ‖ ciphertext+tag). The prefix allows key rotation later.
const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    /// `key_b64` is TOKEN_ENCRYPTION_KEY: base64 of exactly 32 bytes.
    pub fn from_base64(key_b64: &str) -> Result<Self, String> {
        let key = B64
            .decode(key_b64.trim())
            .map_err(|_| "TOKEN_ENCRYPTION_KEY is not valid base64".to_string())?;
        if key.len() != 32 {
            return Err(format!(
                "TOKEN_ENCRYPTION_KEY must decode to 32 bytes, got {}",
                key.len()
            ));
        }
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?;
        Ok(SecretBox { cipher })
    }

    pub fn seal(&self, plaintext: &str, nonce: [u8; 12]) -> String {
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of a short token cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, String> {
        let raw = sealed.strip_prefix(PREFIX).ok_or("unknown secret format")?;
        let bytes = B64.decode(raw).map_err(|_| "corrupt secret")?;
        if bytes.len() < 12 + 16 {
            return Err("corrupt secret".into());
        }
        let (nonce, ct) = bytes.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| "secret does not decrypt with TOKEN_ENCRYPTION_KEY")?;
        String::from_utf8(pt).map_err(|_| "corrupt secret".into())
    }
}

/// API keys are 32 random bytes; a plain SHA-256 is enough at rest for such entropy (no
/// dictionary to attack), and keeps lookup a single indexed equality.
pub fn hash_api_key(key: &str) -> String {
    sha256_hex(key)
}

/// `prefix_` + URL-safe base64 of the random bytes.
pub fn format_key(prefix: &str, random: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(random))
}

/// Constant-time comparison for secrets (admin token).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u8 as u32 | ((a.len() ^ b.len()) >> 8) as u32;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as u32;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::from_base64(&B64.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn seal_open_round_trip_and_no_plaintext() {
        let sealed = sb().seal("EAAB-secret-token", [1; 12]);
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("EAAB"));
        assert_eq!(sb().open(&sealed).unwrap(), "EAAB-secret-token");
        // a different nonce gives a different ciphertext
        assert_ne!(sealed, sb().seal("EAAB-secret-token", [2; 12]));
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let sealed = sb().seal("tok", [1; 12]);
        let other = SecretBox::from_base64(&B64.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sb().open(&tampered).is_err());
        assert!(sb().open("plain").is_err());
    }

    #[test]
    fn key_validation() {
        assert!(SecretBox::from_base64("not base64!").is_err());
        assert!(SecretBox::from_base64(&B64.encode([0u8; 16])).is_err());
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn keys_are_prefixed_and_hash_stable() {
        let k = format_key("pg_live", &[0xAB; 32]);
        assert!(k.starts_with("pg_live_"));
        assert_eq!(hash_api_key(&k), hash_api_key(&k));
        assert_eq!(hash_api_key(&k).len(), 64);
    }
}
