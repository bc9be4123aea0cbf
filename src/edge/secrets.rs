//! Sealing and opening stored secrets (platform tokens, API secrets, ads OAuth tokens) with the
//! token encryption keys, each bound to the row and column it is stored in. A secret is opened
//! only for the request that uses it and never leaves this Worker. The other gateway keys (the
//! visitor cookie's signature, the OAuth state's) are derived from the same configured keys.

use worker::Env;

use super::store::d1::PixelRow;
use super::{config, random_bytes, ApiError};
use crate::core::destinations::Credentials;
use crate::core::secrets::{Keyring, SealedField};

/// The configured keys (`TOKEN_ENCRYPTION_KEYS`, `TOKEN_ENCRYPTION_KEY`); current first.
pub fn keyring(env: &Env) -> Result<Keyring, ApiError> {
    let (keys, single) = config::token_encryption_keys(env);
    Keyring::parse(keys.as_deref(), single.as_deref())
        .map_err(|m| ApiError::new(500, "misconfigured", &m))
}

pub fn seal(env: &Env, plain: &str, at: &SealedField) -> Result<String, ApiError> {
    Ok(keyring(env)?.seal(plain, at, random_bytes()))
}

/// Opens a sealed value; the error says why it is unreadable (never what it holds).
pub fn open(env: &Env, sealed: &str, at: &SealedField) -> Result<String, ApiError> {
    keyring(env)?
        .open(sealed, at)
        .map_err(|m| ApiError::new(500, "secret_unreadable", &m))
}

/// Where a pixel's secret `field` is sealed.
pub fn pixel_field<'a>(tenant_id: &'a str, pixel: &'a str, field: &'a str) -> SealedField<'a> {
    SealedField {
        tenant_id,
        row: pixel,
        field,
    }
}

/// The row an ads account's tokens are sealed for: its natural key (tenant, platform, account
/// id), which a reconnection of the same account keeps.
pub fn ads_row(platform: &str, account_id: &str) -> String {
    format!("ads:{platform}:{account_id}")
}

/// An ads account's token `field`: (tenant, platform, account id) name its row.
#[cfg(feature = "jobs")]
pub struct AdsField<'a> {
    pub tenant_id: &'a str,
    pub platform: &'a str,
    pub account_id: &'a str,
    pub field: &'a str,
}

#[cfg(feature = "jobs")]
impl AdsField<'_> {
    pub fn seal(&self, env: &Env, plain: &str) -> Result<String, ApiError> {
        let row = ads_row(self.platform, self.account_id);
        seal(env, plain, &self.at(&row))
    }

    pub fn open(&self, env: &Env, sealed: &str) -> Result<String, ApiError> {
        let row = ads_row(self.platform, self.account_id);
        open(env, sealed, &self.at(&row))
    }

    fn at<'a>(&'a self, row: &'a str) -> SealedField<'a> {
        SealedField {
            tenant_id: self.tenant_id,
            row,
            field: self.field,
        }
    }
}

/// The row a tenant integration's secret (`integrations.secret_enc`: the Stripe signing secret,
/// the Lead Ads CRM forward's) is sealed for.
#[cfg(feature = "jobs")]
pub fn integration_row(kind: &str) -> String {
    format!("integration:{kind}")
}

/// The secret of the tenant's integration `kind`, sealed for its row.
#[cfg(feature = "jobs")]
pub struct IntegrationSecret<'a> {
    pub tenant_id: &'a str,
    pub kind: &'a str,
}

#[cfg(feature = "jobs")]
impl IntegrationSecret<'_> {
    pub fn seal(&self, env: &Env, plain: &str) -> Result<String, ApiError> {
        seal(env, plain, &self.at(&integration_row(self.kind)))
    }

    pub fn open(&self, env: &Env, sealed: &str) -> Result<String, ApiError> {
        open(env, sealed, &self.at(&integration_row(self.kind)))
    }

    fn at<'a>(&'a self, row: &'a str) -> SealedField<'a> {
        SealedField {
            tenant_id: self.tenant_id,
            row,
            field: "secret",
        }
    }
}

/// A pixel's decrypted credentials, alive only for one request.
pub fn credentials(env: &Env, row: &PixelRow) -> Result<Credentials, ApiError> {
    let ring = keyring(env)?;
    let open = |v: &Option<String>, field: &str| -> Result<Option<String>, ApiError> {
        v.as_deref()
            .map(|s| {
                ring.open(s, &pixel_field(&row.tenant_id, &row.id, field))
                    .map_err(|m| ApiError::new(500, "secret_unreadable", &m))
            })
            .transpose()
    };
    Ok(Credentials {
        pixel_id: row.pixel_id.clone(),
        access_token: open(&row.access_token_enc, "access_token")?,
        api_secret: open(&row.api_secret_enc, "api_secret")?,
        test_event_code: row.test_event_code.clone(),
        settings: row.settings(),
    })
}

/// Keys derived from each configured encryption key for `label`, current first: a value signed
/// under an older key (a visitor cookie, an OAuth state) still verifies during a rotation, and new
/// ones are signed with the current key.
fn derived_keys(env: &Env, label: &[u8]) -> Vec<[u8; 32]> {
    let (keys, single) = config::token_encryption_keys(env);
    crate::core::secrets::key_texts(keys.as_deref(), single.as_deref())
        .iter()
        .map(|text| crate::core::hash::hmac_sha256(text.as_bytes(), label))
        .collect()
}

/// HMAC keys of the visitor cookie's signature (`pg_vsig`), current first; empty when no key
/// is configured (then nothing is signed and nothing proves a visitor).
pub fn visitor_keys(env: &Env) -> Vec<[u8; 32]> {
    derived_keys(env, b"pixelgate visitor v1")
}

/// HMAC keys of the OAuth `state`, current first.
#[cfg(feature = "jobs")]
pub fn oauth_state_keys(env: &Env) -> Result<Vec<Vec<u8>>, ApiError> {
    let keys: Vec<Vec<u8>> = derived_keys(env, b"pixelgate oauth state v1")
        .into_iter()
        .map(|k| k.to_vec())
        .collect();
    if keys.is_empty() {
        // The keyring's error says what is wrong with the configuration.
        return Err(keyring(env)
            .err()
            .unwrap_or_else(|| ApiError::new(500, "misconfigured", "no token encryption key")));
    }
    Ok(keys)
}

/// What a re-encrypt run did.
#[cfg(feature = "jobs")]
#[derive(serde::Serialize, Default)]
pub struct Reencrypted {
    pub current_key: String,
    /// Sealed fields moved to the current key (pixels' tokens and API secrets).
    pub pixels: u64,
    /// Sealed fields moved to the current key (ads accounts' access and refresh tokens).
    pub ads_accounts: u64,
    /// Sealed fields moved to the current key (integrations' secrets: Stripe's signing secret,
    /// the Lead Ads CRM forward's).
    pub integrations: u64,
    /// Fields no configured key opens (sealed under a key that was removed, or corrupt): left as
    /// they are; the pixel or account needs its credentials again.
    pub unreadable: u64,
}

/// Moves every sealed secret that is not in the current form (an older key, or the form from
/// before keys had ids and rows) to the current key, bound to its row: the daily cron runs it,
/// and `POST /api/v1/admin/reencrypt`. Each field is replaced only if it still holds what was
/// read, so a credential written meanwhile is kept. Idempotent.
#[cfg(feature = "jobs")]
pub async fn reencrypt(env: &Env) -> Result<Reencrypted, ApiError> {
    use super::store::d1::sealed::{reseal_statement, stale_sealed, SealedTable};
    const PAGE: i64 = 100;
    let ring = keyring(env)?;
    let db = super::bindings::db(env)?;
    let prefix = ring.current_prefix();
    let mut out = Reencrypted {
        current_key: ring.current_id().to_string(),
        ..Default::default()
    };
    for table in [
        SealedTable::Pixels,
        SealedTable::AdsAccounts,
        SealedTable::Integrations,
    ] {
        let mut after = String::new();
        loop {
            let rows = stale_sealed(&db, table, &prefix, &after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = last.id.clone();
            let mut writes = Vec::new();
            for r in &rows {
                let row = match table {
                    SealedTable::Pixels => r.id.clone(),
                    SealedTable::AdsAccounts => ads_row(&r.platform, &r.account_id),
                    SealedTable::Integrations => integration_row(&r.kind),
                };
                let fields = table.fields();
                for (which, sealed) in [&r.first, &r.second].into_iter().enumerate() {
                    let Some(sealed) = sealed else { continue };
                    let at = SealedField {
                        tenant_id: &r.tenant_id,
                        row: &row,
                        field: fields[which],
                    };
                    match ring.reseal(sealed, &at, random_bytes()) {
                        Ok(Some(new)) => {
                            writes.push(reseal_statement(&db, table, which, &r.id, sealed, &new)?);
                        }
                        Ok(None) => {}
                        Err(why) => {
                            out.unreadable += 1;
                            worker::console_warn!(
                                "re-encrypt: {} of {} stays as it is: {why}",
                                fields[which],
                                r.id
                            );
                        }
                    }
                }
            }
            let moved = writes.len() as u64;
            super::store::d1::batch(&db, writes).await?;
            match table {
                SealedTable::Pixels => out.pixels += moved,
                SealedTable::AdsAccounts => out.ads_accounts += moved,
                SealedTable::Integrations => out.integrations += moved,
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
    }
    Ok(out)
}
