//! SHA-256 hashing of normalized PII.
//!
//! Every platform we talk to (Meta CAPI, Google Ads / GA4 Measurement Protocol, LinkedIn CAPI,
//! TikTok Events API) wants the SHA-256 of the normalized value as 64 lowercase hex characters.
//! Values that already look like a SHA-256 digest are passed through (lowercased) so a value
//! hashed upstream is never hashed twice.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 digest as its 64 lowercase hex characters, held inline. Every hashed identifier of
/// an event is one: hashing allocates nothing, a destination writes it with a plain copy (hex
/// needs no JSON escaping), and copying an event copies no heap strings. It serializes as the hex
/// string, so queue messages and stored payloads keep exactly the shape they had as `String`s.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    /// SHA-256 of the UTF-8 bytes of `input`.
    pub fn of(input: &str) -> Self {
        let digest = Sha256::digest(input.as_bytes());
        let mut hex = [0u8; 64];
        for (digits, bytes) in hex.chunks_exact_mut(8).zip(digest.chunks_exact(4)) {
            let bytes = bytes.try_into().expect("chunks of 4");
            digits.copy_from_slice(&hex_digits(bytes).to_le_bytes());
        }
        Sha256Hex(hex)
    }

    /// `value` lowercased when it already is a SHA-256 hex digest (64 hex digits, either case).
    pub fn parse(value: &str) -> Option<Self> {
        if !is_sha256_hex(value) {
            return None;
        }
        let mut hex = [0u8; 64];
        hex.copy_from_slice(value.as_bytes());
        hex.make_ascii_lowercase();
        Some(Sha256Hex(hex))
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: the array is private and only ever holds ASCII hex digits: `of` writes them with
        // `hex_digits` and `parse` copies them after `is_sha256_hex`. Validating the UTF-8 again on
        // every write into a body cost more than copying the 64 bytes.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl serde::de::Visitor<'_> for HexVisitor {
            type Value = Sha256Hex;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SHA-256 digest as 64 hex characters")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Sha256Hex, E> {
                Sha256Hex::parse(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(HexVisitor)
    }
}

/// The eight lowercase hex digits of four bytes, in the bytes of a little-endian u64. All eight
/// nibbles are converted at once (SWAR); a table lookup per nibble cost about as much as the
/// rest of hashing a short value, the SHA-256 compression aside.
fn hex_digits(bytes: [u8; 4]) -> u64 {
    const NIBBLES: u64 = 0x000F_000F_000F_000F;
    let x = u64::from(u32::from_le_bytes(bytes));
    // Each byte to its own 16 bits: b0 at bit 0, b1 at 16, b2 at 32, b3 at 48.
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    // One nibble per byte, the high one first (it is written first).
    let n = ((x >> 4) & NIBBLES) | ((x & NIBBLES) << 8);
    // '0'..='9' are 0x30 + n; 'a'..='f' are 0x30 + n + 0x27. n + 6 carries into bit 4 for n >= 10.
    let letters = ((n + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    n + 0x3030_3030_3030_3030 + letters * 0x27
}

/// SHA-256 of the UTF-8 bytes of `input`, as 64 lowercase hex characters.
pub fn sha256_hex(input: &str) -> String {
    Sha256Hex::of(input).as_str().to_string()
}

/// True when `value` is exactly 64 ASCII hex digits (either case), i.e. looks like a SHA-256
/// digest in hex. No trimming is done here; callers trim first.
pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Hash an already-normalized value. A value that is already a SHA-256 hex digest is returned
/// lowercased instead of being hashed again.
pub fn hash_normalized(normalized: &str) -> Sha256Hex {
    Sha256Hex::parse(normalized).unwrap_or_else(|| Sha256Hex::of(normalized))
}

/// HMAC-SHA256 (RFC 2104) with the `sha2` crate.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values computed independently with `printf %s 'value' | sha256sum`.
    // The Meta ones also appear as worked examples in Meta's "Customer Information
    // Parameters" documentation.
    #[test]
    fn golden_values() {
        let cases = [
            (
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "test@example.com",
                "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
            ),
            (
                "john_smith@gmail.com",
                "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
            ),
            (
                "16505551212",
                "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
            ),
            (
                "+14155552671",
                "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928",
            ),
            (
                "14155552671",
                "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0",
            ),
            (
                "mary",
                "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
            ),
            (
                "정",
                "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14",
            ),
            (
                "valéry",
                "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
            ),
            (
                "josé",
                "d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866",
            ),
            (
                "19970216",
                "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
            ),
            (
                "us",
                "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(sha256_hex(input), expected, "sha256({input:?})");
            assert_eq!(
                hash_normalized(input).as_str(),
                expected,
                "hash_normalized({input:?})"
            );
        }
    }

    #[test]
    fn hex_output_shape() {
        let h = sha256_hex("anything at all");
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(is_sha256_hex(&h));
    }

    #[test]
    fn detects_sha256_hex() {
        let lower = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";
        let upper = lower.to_ascii_uppercase();
        assert!(is_sha256_hex(lower));
        assert!(is_sha256_hex(&upper));
        assert!(!is_sha256_hex(&lower[..63])); // 63 chars
        assert!(!is_sha256_hex(&format!("{lower}0"))); // 65 chars
        assert!(!is_sha256_hex(&format!("g{}", &lower[1..]))); // non-hex char
        assert!(!is_sha256_hex(&format!(" {}", &lower[1..]))); // space counts
        assert!(!is_sha256_hex("5d41402abc4b2a76b9719d911017c592")); // MD5 length
        assert!(!is_sha256_hex(""));
        // 64 bytes but multi-byte chars: not hex
        assert!(!is_sha256_hex(&"é".repeat(32)));
    }

    #[test]
    fn hex_digits_of_every_byte_in_every_position() {
        for b in 0..=255u8 {
            for at in 0..4 {
                let mut bytes = [0x5a; 4];
                bytes[at] = b;
                let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let digits = hex_digits(bytes).to_le_bytes();
                assert_eq!(std::str::from_utf8(&digits).unwrap(), expected);
            }
        }
    }

    #[test]
    fn serializes_as_the_hex_string() {
        let h = Sha256Hex::of("test@example.com");
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(text, format!("\"{}\"", sha256_hex("test@example.com")));
        assert_eq!(serde_json::from_str::<Sha256Hex>(&text).unwrap(), h);
        assert_eq!(
            serde_json::from_str::<Sha256Hex>(&text.to_ascii_uppercase()).unwrap(),
            h
        );
        assert!(serde_json::from_str::<Sha256Hex>("\"not a digest\"").is_err());
        assert_eq!(format!("{h:?}"), format!("{:?}", h.as_str()));
    }

    #[test]
    fn never_double_hashes() {
        let h = sha256_hex("test@example.com");
        assert_eq!(hash_normalized(&h).as_str(), h);
        assert_eq!(hash_normalized(&h.to_ascii_uppercase()).as_str(), h);
        let mixed = "A665a45920422F9D417e4867efDC4fb8a04a1f3FFF1fa07E998e86F7f7A27AE3";
        assert_eq!(hash_normalized(mixed).as_str(), mixed.to_ascii_lowercase());
    }
}
