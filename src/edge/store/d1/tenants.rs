//! Tenants: creation, configuration (consent policy, free-form settings), api keys and the
//! notification webhook.

use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::D1Database;

use super::pixels::{list_pixels, PixelRow};
use super::{first, n, opt, run, s};
use crate::core::consent::ConsentPolicy;
use crate::core::tenant::TenantConfig;
use crate::edge::ApiError;

#[derive(Deserialize)]
struct SiteKeyRow {
    site_key: String,
}

/// A new tenant's keys: the public site key, and the hashes of its api key and ingest key.
pub struct NewKeys<'a> {
    pub site_key: &'a str,
    pub api_key_hash: &'a str,
    pub ingest_key_hash: &'a str,
}

pub async fn create_tenant(
    db: &D1Database,
    id: &str,
    name: &str,
    domains: &[String],
    keys: &NewKeys<'_>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO tenants (id, name, domains, site_key, api_key_hash, ingest_key_hash, ingest_key_rotated_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        &[s(id), s(name), s(&json!(domains).to_string()), s(keys.site_key), s(keys.api_key_hash), s(keys.ingest_key_hash), n(now)],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
struct SiteKeyOwner {
    id: String,
    valid_until: Option<i64>,
}

/// The tenant of a site key: its current one, or the previous one while its grace period lasts
/// (then with the instant it stops). Bearer key lookups are `auth::key_owner`.
pub async fn tenant_by_site_key(
    db: &D1Database,
    site_key: &str,
    now: i64,
) -> Result<Option<(String, Option<i64>)>, ApiError> {
    Ok(first::<SiteKeyOwner>(
        db,
        "SELECT id, CASE WHEN site_key = ?1 THEN NULL ELSE site_key_prev_expires_at END AS valid_until
         FROM tenants WHERE site_key = ?1 OR (site_key_prev = ?1 AND site_key_prev_expires_at > ?2) LIMIT 1",
        &[s(site_key), n(now)],
    )
    .await?
    .map(|r| (r.id, r.valid_until)))
}

#[derive(Deserialize)]
pub struct SiteKeys {
    pub site_key: String,
    pub site_key_prev: Option<String>,
    pub site_key_prev_expires_at: Option<i64>,
}

/// The tenant's site keys: the current one, and the previous one with the end of its grace.
pub async fn site_keys_of(db: &D1Database, tenant_id: &str) -> Result<SiteKeys, ApiError> {
    first::<SiteKeys>(
        db,
        "SELECT site_key, site_key_prev, site_key_prev_expires_at FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .ok_or_else(|| ApiError::not_found("tenant"))
}

/// A new site key; the old one stays valid until `prev_until` (or stops now without it).
/// Compare-and-set on the old key: of two concurrent rotations one wins.
pub async fn rotate_site_key(
    db: &D1Database,
    tenant_id: &str,
    old: &str,
    new: &str,
    prev_until: Option<i64>,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE tenants SET site_key_prev = CASE WHEN ?4 IS NULL THEN NULL ELSE site_key END,
           site_key_prev_expires_at = ?4, site_key = ?3
         WHERE id = ?1 AND site_key = ?2",
        &[
            s(tenant_id),
            s(old),
            s(new),
            prev_until.map(n).unwrap_or(JsValue::NULL),
        ],
    )
    .await?
        > 0)
}

/// A new ingest key (its hash); the old one stays valid until `prev_until` (or stops now).
pub async fn rotate_ingest_key(
    db: &D1Database,
    tenant_id: &str,
    new_hash: &str,
    prev_until: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET ingest_key_hash_prev = CASE WHEN ?3 IS NULL THEN NULL ELSE ingest_key_hash END,
           ingest_key_prev_expires_at = ?3, ingest_key_hash = ?2, ingest_key_rotated_at = ?4
         WHERE id = ?1",
        &[s(tenant_id), s(new_hash), prev_until.map(n).unwrap_or(JsValue::NULL), n(now)],
    )
    .await
    .map(|_| ())
}

/// The operator's daily quota for the tenant (None: the default). False for an unknown tenant.
pub async fn set_daily_quota(
    db: &D1Database,
    tenant_id: &str,
    quota: Option<i64>,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE tenants SET daily_quota = ?2 WHERE id = ?1",
        &[s(tenant_id), quota.map(n).unwrap_or(JsValue::NULL)],
    )
    .await?
        > 0)
}

pub async fn site_key_of(db: &D1Database, tenant_id: &str) -> Result<String, ApiError> {
    first::<SiteKeyRow>(
        db,
        "SELECT site_key FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .map(|r| r.site_key)
    .ok_or_else(|| ApiError::not_found("tenant"))
}

#[derive(Deserialize)]
struct PolicyRow {
    consent_policy: String,
}

/// The tenant's consent policy alone (the queue consumer's re-check needs nothing else).
pub async fn consent_policy(db: &D1Database, tenant_id: &str) -> Result<ConsentPolicy, ApiError> {
    let row: Option<PolicyRow> = first(
        db,
        "SELECT consent_policy FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?;
    Ok(row
        .and_then(|r| serde_json::from_str(&r.consent_policy).ok())
        .unwrap_or_default())
}

#[derive(Deserialize)]
struct TenantCfgRow {
    domains: String,
    consent_policy: String,
    shards: i64,
    shards_previous: i64,
    shards_changed_at: i64,
    daily_quota: Option<i64>,
}

pub async fn load_tenant_config(
    db: &D1Database,
    tenant_id: &str,
) -> Result<TenantConfig, ApiError> {
    let row: TenantCfgRow = first(
        db,
        "SELECT domains, consent_policy, shards, shards_previous, shards_changed_at, daily_quota FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .ok_or_else(|| ApiError::not_found("tenant"))?;
    let pixels = list_pixels(db, tenant_id).await?;
    Ok(TenantConfig {
        tenant_id: tenant_id.to_string(),
        domains: serde_json::from_str(&row.domains).unwrap_or_default(),
        consent_policy: serde_json::from_str::<ConsentPolicy>(&row.consent_policy)
            .unwrap_or_default(),
        pixels: pixels.iter().filter_map(PixelRow::route).collect(),
        shards: crate::core::shard::ShardLayout {
            shards: row.shards.clamp(1, 64) as u32,
            previous: row.shards_previous.clamp(1, 64) as u32,
            changed_at: row.shards_changed_at,
        },
        daily_quota: row.daily_quota.and_then(|q| u64::try_from(q).ok()),
        key_valid_until: None,
    })
}

/// The tenant's event shard layout alone (the audit and erase fan out over it).
pub async fn shard_layout(
    db: &D1Database,
    tenant_id: &str,
) -> Result<crate::core::shard::ShardLayout, ApiError> {
    Ok(load_tenant_config(db, tenant_id).await?.shards)
}

pub async fn set_consent_policy(
    db: &D1Database,
    tenant_id: &str,
    policy: &ConsentPolicy,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET consent_policy = ?2 WHERE id = ?1",
        &[
            s(tenant_id),
            s(&serde_json::to_string(policy).unwrap_or_default()),
        ],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
struct SettingsRow {
    settings: String,
}

/// The tenant's free-form settings JSON (`banner`, ...); `{}` when unset or unreadable.
pub async fn tenant_settings(db: &D1Database, tenant_id: &str) -> Result<Value, ApiError> {
    let row: Option<SettingsRow> = first(
        db,
        "SELECT settings FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?;
    Ok(row
        .and_then(|r| serde_json::from_str(&r.settings).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({})))
}

/// Sets one top-level key of the settings JSON, keeping the others.
pub async fn set_tenant_setting(
    db: &D1Database,
    tenant_id: &str,
    key: &str,
    value: &Value,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET settings = json_set(CASE WHEN json_valid(settings) THEN settings ELSE '{}' END, ?2, json(?3)) WHERE id = ?1",
        &[s(tenant_id), s(&format!("$.{key}")), s(&value.to_string())],
    )
    .await
    .map(|_| ())
}

/// New current key. With `prev_until`, the old current key stays valid until then; without, it
/// (and any earlier previous key) stops working at once.
pub async fn rotate_api_key(
    db: &D1Database,
    tenant_id: &str,
    old_hash: &str,
    new_hash: &str,
    prev_until: Option<i64>,
    now: i64,
) -> Result<bool, ApiError> {
    // `api_key_hash = old_hash` makes concurrent rotations with the same key race-free: one wins.
    let sql = if prev_until.is_some() {
        "UPDATE tenants SET api_key_hash_prev = api_key_hash, api_key_hash = ?3, api_key_prev_expires_at = ?4, api_key_rotated_at = ?5
         WHERE id = ?1 AND api_key_hash = ?2"
    } else {
        "UPDATE tenants SET api_key_hash_prev = NULL, api_key_hash = ?3, api_key_prev_expires_at = NULL, api_key_rotated_at = ?5
         WHERE id = ?1 AND api_key_hash = ?2"
    };
    Ok(run(
        db,
        sql,
        &[
            s(tenant_id),
            s(old_hash),
            s(new_hash),
            prev_until.map(n).unwrap_or(JsValue::NULL),
            n(now),
        ],
    )
    .await?
        > 0)
}

pub async fn revoke_previous_key(db: &D1Database, tenant_id: &str) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE tenants SET api_key_hash_prev = NULL, api_key_prev_expires_at = NULL WHERE id = ?1 AND api_key_hash_prev IS NOT NULL",
        &[s(tenant_id)],
    )
    .await?
        > 0)
}

#[derive(Deserialize, serde::Serialize)]
pub struct TenantProfile {
    pub id: String,
    pub name: String,
    pub domains: String,
    pub site_key: String,
    pub retention_days: i64,
    pub created_at: i64,
    pub api_key_rotated_at: Option<i64>,
    pub api_key_prev_expires_at: Option<i64>,
    pub has_prev_key: i64,
    pub notify_webhook_url: Option<String>,
    pub has_ingest_key: i64,
    pub ingest_key_rotated_at: Option<i64>,
    pub ingest_key_prev_expires_at: Option<i64>,
    pub site_key_prev_expires_at: Option<i64>,
    pub daily_quota: Option<i64>,
}

pub async fn tenant_profile(db: &D1Database, tenant_id: &str) -> Result<TenantProfile, ApiError> {
    first(
        db,
        "SELECT id, name, domains, site_key, retention_days, created_at, api_key_rotated_at, api_key_prev_expires_at,
           (api_key_hash_prev IS NOT NULL) AS has_prev_key, notify_webhook_url,
           (ingest_key_hash IS NOT NULL) AS has_ingest_key, ingest_key_rotated_at, ingest_key_prev_expires_at,
           site_key_prev_expires_at, daily_quota FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .ok_or_else(|| ApiError::not_found("tenant"))
}

pub async fn set_notify_webhook(
    db: &D1Database,
    tenant_id: &str,
    url: Option<&str>,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET notify_webhook_url = ?2 WHERE id = ?1",
        &[s(tenant_id), opt(url)],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
pub struct NotifyTarget {
    pub name: String,
    pub notify_webhook_url: Option<String>,
}

pub async fn notify_target(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Option<NotifyTarget>, ApiError> {
    first(
        db,
        "SELECT name, notify_webhook_url FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await
}

#[derive(Deserialize)]
pub struct RetentionTarget {
    pub id: String,
    pub retention_days: i64,
    pub shards: i64,
    pub shards_previous: i64,
    pub shards_changed_at: i64,
}

impl RetentionTarget {
    pub fn layout(&self) -> crate::core::shard::ShardLayout {
        crate::core::shard::ShardLayout {
            shards: self.shards.clamp(1, 64) as u32,
            previous: self.shards_previous.clamp(1, 64) as u32,
            changed_at: self.shards_changed_at,
        }
    }
}

/// Every tenant, with what the daily retention run needs to reach its shards.
pub async fn retention_targets(db: &D1Database) -> Result<Vec<RetentionTarget>, ApiError> {
    super::all(
        db,
        "SELECT id, retention_days, shards, shards_previous, shards_changed_at FROM tenants ORDER BY id",
        &[],
    )
    .await
}

/// Stores a tenant's new event shard layout.
pub async fn set_shard_layout(
    db: &D1Database,
    tenant_id: &str,
    layout: &crate::core::shard::ShardLayout,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE tenants SET shards = ?2, shards_previous = ?3, shards_changed_at = ?4 WHERE id = ?1",
        &[
            s(tenant_id),
            n(layout.shards as i64),
            n(layout.previous as i64),
            n(layout.changed_at),
        ],
    )
    .await?
        == 1)
}

#[derive(Deserialize)]
pub struct WebhookTenant {
    pub id: String,
    pub name: String,
    pub notify_webhook_url: String,
}

/// Every tenant with a notification webhook (the weekly pixel health report goes to them).
pub async fn tenants_with_webhook(db: &D1Database) -> Result<Vec<WebhookTenant>, ApiError> {
    super::all(
        db,
        "SELECT id, name, notify_webhook_url FROM tenants WHERE notify_webhook_url IS NOT NULL AND notify_webhook_url != '' ORDER BY id",
        &[],
    )
    .await
}

/// The tenant's retention in days (events, deliveries, history).
pub async fn retention_days(db: &D1Database, tenant_id: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct R {
        retention_days: i64,
    }
    Ok(first::<R>(
        db,
        "SELECT retention_days FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .map_or(crate::core::retention::DEFAULT_RETENTION_DAYS, |r| {
        r.retention_days
    }))
}
