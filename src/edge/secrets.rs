//! Sealing and opening stored secrets (platform tokens, API secrets) with TOKEN_ENCRYPTION_KEY.
//! A secret is opened only for the request that uses it and never leaves this Worker.

use worker::Env;

use super::store::d1::PixelRow;
use super::{config, random_bytes, ApiError};
use crate::core::destinations::Credentials;
use crate::core::secrets::SecretBox;

pub fn secret_box(env: &Env) -> Result<SecretBox, ApiError> {
    let key = config::token_encryption_key(env)?;
    SecretBox::from_base64(&key).map_err(|m| ApiError::new(500, "misconfigured", &m))
}

pub fn seal(env: &Env, plain: &str) -> Result<String, ApiError> {
    Ok(secret_box(env)?.seal(plain, random_bytes()))
}

/// Opens a sealed value; the error says why it is unreadable (never what it holds).
pub fn open(env: &Env, sealed: &str) -> Result<String, ApiError> {
    secret_box(env)?
        .open(sealed)
        .map_err(|m| ApiError::new(500, "secret_unreadable", &m))
}

/// A pixel's decrypted credentials, alive only for one request.
pub fn credentials(env: &Env, row: &PixelRow) -> Result<Credentials, ApiError> {
    let sb = secret_box(env)?;
    let open = |v: &Option<String>| -> Result<Option<String>, ApiError> {
        v.as_deref()
            .map(|s| {
                sb.open(s)
                    .map_err(|m| ApiError::new(500, "secret_unreadable", &m))
            })
            .transpose()
    };
    Ok(Credentials {
        pixel_id: row.pixel_id.clone(),
        access_token: open(&row.access_token_enc)?,
        api_secret: open(&row.api_secret_enc)?,
        test_event_code: row.test_event_code.clone(),
        settings: row.settings(),
    })
}

/// HMAC key of the visitor cookie's signature (`pg_vsig`), derived from the token encryption
/// key; `None` when that is not configured (then nothing is signed and nothing proves a visitor).
pub fn visitor_key(env: &Env) -> Option<[u8; 32]> {
    let key = config::token_encryption_key(env).ok()?;
    Some(crate::core::hash::hmac_sha256(
        key.as_bytes(),
        b"pixelgate visitor v1",
    ))
}

/// HMAC key of the OAuth `state`, derived from the token encryption key.
#[cfg(feature = "jobs")]
pub fn oauth_state_key(env: &Env) -> Result<Vec<u8>, ApiError> {
    let key = config::token_encryption_key(env)?;
    Ok(crate::core::ads::oauth::hmac_sha256(key.as_bytes(), b"pixelgate oauth state v1").to_vec())
}
