//! AES-256-GCM for platform tokens at rest, and API key hashing. Randomness comes from the caller
//! so this stays pure and testable.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::hash::sha256_hex;

/// Stored forms: `v2:<kid>:` + base64(nonce ‖ ciphertext+tag), sealed under key `kid` with the
/// row it belongs to as associated data; and the older `v1:` + base64(…), from before keys had
/// ids, without associated data (still opened, and moved to `v2` by the re-encrypt job).
const V1: &str = "v1:";
const V2: &str = "v2:";

/// The id `TOKEN_ENCRYPTION_KEY` has when it is given alone (or beside `TOKEN_ENCRYPTION_KEYS`).
pub const SINGLE_KEY_ID: &str = "0";

/// Where a sealed value lives, bound into its ciphertext as AES-GCM associated data: a value
/// copied to another row, tenant or column does not open there.
#[derive(Debug, Clone, Copy)]
pub struct SealedField<'a> {
    pub tenant_id: &'a str,
    /// The row: a pixel's id, or `ads:<platform>:<account id>` for an ads account.
    pub row: &'a str,
    /// The column, e.g. `access_token`.
    pub field: &'a str,
}

impl SealedField<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("pixelgate|{}|{}|{}", self.tenant_id, self.row, self.field).into_bytes()
    }
}

struct Key {
    id: String,
    /// The key as configured (base64): the other gateway keys (visitor signatures, OAuth state)
    /// are derived from this text.
    text: String,
    cipher: Aes256Gcm,
}

/// The token encryption keys: the first seals, every one opens what it sealed. Configured as
/// `TOKEN_ENCRYPTION_KEYS` (`kid:base64,kid:base64`, first = current) and/or
/// `TOKEN_ENCRYPTION_KEY` (one base64 key, id `0`, current only when alone).
pub struct Keyring {
    keys: Vec<Key>,
}

/// The configured keys' texts, current first, read without validating them: what the beacon
/// Worker derives its signing keys from (the jobs Worker's `Keyring` validates the same text, and
/// a key it refuses is refused there, loudly).
pub fn key_texts<'a>(keys: Option<&'a str>, single: Option<&'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = keys
        .unwrap_or_default()
        .split(',')
        .filter_map(|e| e.split_once(':'))
        .map(|(_, text)| text.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(t) = single
        .map(str::trim)
        .filter(|t| !t.is_empty() && !out.contains(t))
    {
        out.push(t);
    }
    out
}

/// The configured keys as (id, base64 text), current first, validated (ids unique, each 32
/// bytes). `keys` is TOKEN_ENCRYPTION_KEYS, `single` TOKEN_ENCRYPTION_KEY (either may be unset).
pub fn configured_keys(
    keys: Option<&str>,
    single: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    fn add(out: &mut Vec<(String, String)>, id: &str, text: &str, var: &str) -> Result<(), String> {
        let valid_id = (1..=16).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            return Err(format!(
                "{var}: a key id must be 1-16 ASCII letters, digits, '-' or '_'"
            ));
        }
        if out.iter().any(|(k, _)| k == id) {
            return Err(format!("{var}: key id {id} appears twice"));
        }
        let len = B64
            .decode(text)
            .map_err(|_| format!("{var}: key {id} is not valid base64"))?
            .len();
        if len != 32 {
            return Err(format!(
                "{var}: key {id} must decode to 32 bytes, got {len}"
            ));
        }
        out.push((id.to_string(), text.to_string()));
        Ok(())
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in keys.unwrap_or_default().split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (id, text) = entry.split_once(':').ok_or_else(|| {
            "TOKEN_ENCRYPTION_KEYS must be kid:base64 pairs separated by commas".to_string()
        })?;
        add(&mut out, id.trim(), text.trim(), "TOKEN_ENCRYPTION_KEYS")?;
    }
    if let Some(text) = single.map(str::trim).filter(|t| !t.is_empty()) {
        if !out.iter().any(|(_, t)| t == text) {
            add(&mut out, SINGLE_KEY_ID, text, "TOKEN_ENCRYPTION_KEY")?;
        }
    }
    if out.is_empty() {
        return Err("TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_KEYS is not set".into());
    }
    Ok(out)
}

impl Keyring {
    /// `keys` is TOKEN_ENCRYPTION_KEYS, `single` TOKEN_ENCRYPTION_KEY (either may be unset).
    pub fn parse(keys: Option<&str>, single: Option<&str>) -> Result<Keyring, String> {
        let keys = configured_keys(keys, single)?
            .into_iter()
            .map(|(id, text)| {
                let bytes = B64.decode(&text).map_err(|e| e.to_string())?;
                let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|e| e.to_string())?;
                Ok(Key { id, text, cipher })
            })
            .collect::<Result<Vec<Key>, String>>()?;
        Ok(Keyring { keys })
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// The configured key texts, current first: what the derived keys (visitor signatures, OAuth
    /// state) are made from, so one signed under an older key still verifies during a rotation.
    pub fn key_texts(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.text.as_str())
    }

    pub fn seal(&self, plaintext: &str, at: &SealedField, nonce: [u8; 12]) -> String {
        let key = &self.keys[0];
        let aad = at.associated_data();
        let ct = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of a short token cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{V2}{}:{}", key.id, B64.encode(out))
    }

    /// Opens a value sealed for `at`: a `v2` one with its key and `at` as associated data, a `v1`
    /// one (no key id, no associated data) with whichever key opens it.
    pub fn open(&self, sealed: &str, at: &SealedField) -> Result<String, String> {
        if let Some(rest) = sealed.strip_prefix(V2) {
            let (id, raw) = rest.split_once(':').ok_or("corrupt secret")?;
            let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
                format!("secret sealed with key {id}, which TOKEN_ENCRYPTION_KEYS no longer has")
            })?;
            let bytes = sealed_bytes(raw)?;
            let (nonce, ct) = bytes.split_at(12);
            let aad = at.associated_data();
            let pt = key
                .cipher
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
                .map_err(|_| format!("secret does not open with key {id} for this {}", at.field))?;
            return String::from_utf8(pt).map_err(|_| "corrupt secret".into());
        }
        let raw = sealed.strip_prefix(V1).ok_or("unknown secret format")?;
        let bytes = sealed_bytes(raw)?;
        let (nonce, ct) = bytes.split_at(12);
        self.keys
            .iter()
            .find_map(|k| k.cipher.decrypt(Nonce::from_slice(nonce), ct).ok())
            .ok_or_else(|| "secret does not decrypt with any configured key".to_string())
            .and_then(|pt| String::from_utf8(pt).map_err(|_| "corrupt secret".into()))
    }

    /// Is `sealed` already in the current form: `v2` under the current key?
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .strip_prefix(V2)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(id, _)| id == self.current_id())
    }

    /// What a sealed value starts with when it is current (the re-encrypt job's SQL filter).
    pub fn current_prefix(&self) -> String {
        format!("{V2}{}:", self.current_id())
    }
}

impl Keyring {
    /// `sealed` moved to the current form (the current key, `at` as associated data), or None
    /// when it is current already. An error when it opens with no configured key for `at`.
    pub fn reseal(
        &self,
        sealed: &str,
        at: &SealedField,
        nonce: [u8; 12],
    ) -> Result<Option<String>, String> {
        if self.is_current(sealed) {
            return Ok(None);
        }
        let plain = self.open(sealed, at)?;
        Ok(Some(self.seal(&plain, at, nonce)))
    }
}

/// The nonce-and-ciphertext bytes of a sealed value (split at 12: nonce, ciphertext+tag).
fn sealed_bytes(raw: &str) -> Result<Vec<u8>, String> {
    let bytes = B64.decode(raw).map_err(|_| "corrupt secret")?;
    if bytes.len() < 12 + 16 {
        return Err("corrupt secret".into());
    }
    Ok(bytes)
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

    fn k(byte: u8) -> String {
        B64.encode([byte; 32])
    }

    fn ring(keys: &str) -> Keyring {
        Keyring::parse(Some(keys), None).unwrap()
    }

    const AT: SealedField = SealedField {
        tenant_id: "t1",
        row: "pixel-1",
        field: "access_token",
    };

    /// A value as the gateway sealed it before keys had ids: `v1:`, no associated data.
    fn sealed_v1(key: &str, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(&B64.decode(key).unwrap()).unwrap();
        let ct = cipher
            .encrypt(Nonce::from_slice(&[3; 12]), plaintext.as_bytes())
            .unwrap();
        let mut out = vec![3u8; 12];
        out.extend_from_slice(&ct);
        format!("v1:{}", B64.encode(out))
    }

    #[test]
    fn seal_open_round_trip_and_no_plaintext() {
        let r = ring(&format!("k1:{}", k(7)));
        let sealed = r.seal("EAAB-secret-token", &AT, [1; 12]);
        assert!(sealed.starts_with("v2:k1:"));
        assert!(!sealed.contains("EAAB"));
        assert_eq!(r.open(&sealed, &AT).unwrap(), "EAAB-secret-token");
        // a different nonce gives a different ciphertext
        assert_ne!(sealed, r.seal("EAAB-secret-token", &AT, [2; 12]));
        assert!(r.is_current(&sealed));
        assert_eq!(r.current_prefix(), "v2:k1:");
    }

    #[test]
    fn a_ciphertext_opens_only_for_its_own_row_and_field() {
        let r = ring(&format!("k1:{}", k(7)));
        let sealed = r.seal("tok", &AT, [1; 12]);
        for other in [
            SealedField {
                tenant_id: "t2",
                ..AT
            },
            SealedField {
                row: "pixel-2",
                ..AT
            },
            SealedField {
                field: "api_secret",
                ..AT
            },
        ] {
            assert!(r.open(&sealed, &other).is_err(), "{other:?}");
        }
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = ring(&format!("k1:{}", k(7)));
        let sealed = old.seal("tok", &AT, [1; 12]);
        let rotated = ring(&format!("k2:{}, k1:{}", k(8), k(7)));
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.open(&sealed, &AT).unwrap(), "tok");
        assert!(!rotated.is_current(&sealed));
        let moved = rotated.seal(&rotated.open(&sealed, &AT).unwrap(), &AT, [2; 12]);
        assert!(rotated.is_current(&moved));
        // Once the old key is gone, only what was moved opens.
        let only_new = ring(&format!("k2:{}", k(8)));
        assert_eq!(only_new.open(&moved, &AT).unwrap(), "tok");
        let err = only_new.open(&sealed, &AT).unwrap_err();
        assert!(err.contains("k1"), "{err}");
    }

    #[test]
    fn resealing_moves_old_forms_to_the_current_key_once() {
        let rotated = ring(&format!("k2:{}, k1:{}", k(8), k(7)));
        let old = ring(&format!("k1:{}", k(7))).seal("tok", &AT, [1; 12]);
        let legacy = sealed_v1(&k(7), "tok");
        for sealed in [old, legacy] {
            let moved = rotated.reseal(&sealed, &AT, [4; 12]).unwrap().unwrap();
            assert!(moved.starts_with("v2:k2:"));
            assert_eq!(rotated.open(&moved, &AT).unwrap(), "tok");
            assert_eq!(rotated.reseal(&moved, &AT, [5; 12]), Ok(None));
        }
        let foreign = ring(&format!("x:{}", k(9))).seal("tok", &AT, [1; 12]);
        assert!(rotated.reseal(&foreign, &AT, [4; 12]).is_err());
    }

    #[test]
    fn legacy_v1_ciphertexts_without_associated_data_still_open() {
        let legacy = sealed_v1(&k(7), "old-token");
        let single = Keyring::parse(None, Some(&k(7))).unwrap();
        assert_eq!(single.current_id(), SINGLE_KEY_ID);
        assert_eq!(single.open(&legacy, &AT).unwrap(), "old-token");
        assert!(!single.is_current(&legacy));
        // The single key beside a new list: still opens, no longer current.
        let both = Keyring::parse(Some(&format!("k2:{}", k(8))), Some(&k(7))).unwrap();
        assert_eq!(both.current_id(), "k2");
        assert_eq!(both.open(&legacy, &AT).unwrap(), "old-token");
        assert_eq!(
            both.key_texts().collect::<Vec<_>>(),
            [k(8).as_str(), k(7).as_str()]
        );
        // Listed in both: one key.
        let listed = Keyring::parse(Some(&format!("a:{}", k(7))), Some(&k(7))).unwrap();
        assert_eq!(listed.key_texts().count(), 1);
        // The beacon's reading of the same configuration: the same texts, in the same order.
        let (list, single) = (format!("k2:{}, k1:{}", k(8), k(7)), k(7));
        assert_eq!(
            key_texts(Some(&list), Some(&single)),
            Keyring::parse(Some(&list), Some(&single))
                .unwrap()
                .key_texts()
                .collect::<Vec<_>>()
        );
        assert_eq!(key_texts(None, Some(&single)), [single.as_str()]);
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let r = ring(&format!("k1:{}", k(7)));
        let sealed = r.seal("tok", &AT, [1; 12]);
        let other = ring(&format!("k1:{}", k(8)));
        assert!(other.open(&sealed, &AT).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(r.open(&tampered, &AT).is_err());
        assert!(r.open("plain", &AT).is_err());
        assert!(r.open("v2:k1", &AT).is_err());
    }

    #[test]
    fn key_validation() {
        for (keys, single) in [
            (Some("k1:not base64!"), None),
            (Some(format!("k1:{}", B64.encode([0u8; 16])).as_str()), None),
            (Some(format!("k1:{},k1:{}", k(1), k(2)).as_str()), None),
            (Some(format!("bad id:{}", k(1)).as_str()), None),
            (Some(k(1).as_str()), None),
            (None, Some("short")),
            (None, None),
            (Some(" , "), None),
        ] {
            assert!(Keyring::parse(keys, single).is_err(), "{keys:?} {single:?}");
        }
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
