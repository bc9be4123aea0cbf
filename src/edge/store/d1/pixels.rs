//! Pixels: each tenant's destinations, their verify results and health records.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::D1Database;

use super::{all, first, n, opt, run, s};
use crate::core::browser_tags::BrowserPixel;
use crate::core::destinations::PixelSettings;
use crate::core::fanout::PixelRoute;
use crate::core::platform::Platform;
use crate::edge::ApiError;

#[derive(Deserialize)]
pub struct PixelRow {
    pub id: String,
    /// Its secrets are sealed for this tenant and row (`core::secrets::SealedField`).
    pub tenant_id: String,
    pub platform: String,
    pub pixel_id: String,
    pub access_token_enc: Option<String>,
    pub api_secret_enc: Option<String>,
    pub is_active: i64,
    pub server_side_enabled: i64,
    pub test_event_code: Option<String>,
    pub domains: String,
    pub event_names: String,
    pub last_verified_at: Option<i64>,
    pub last_verify_result: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while the platform refuses the pixel (its deliveries wait, paused, in the tenant's event shards).
    pub paused_reason: Option<String>,
    pub paused_at: Option<i64>,
    /// JSON `PixelSettings`: the platform's settings beyond the id.
    pub settings: String,
    pub browser_enabled: i64,
    pub browser_id: Option<String>,
}

impl PixelRow {
    pub fn platform(&self) -> Option<Platform> {
        Platform::parse(&self.platform)
    }

    pub fn domains(&self) -> Vec<String> {
        serde_json::from_str(&self.domains).unwrap_or_default()
    }

    pub fn event_names(&self) -> Vec<String> {
        serde_json::from_str(&self.event_names).unwrap_or_default()
    }

    pub fn settings(&self) -> PixelSettings {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }

    /// What routing knows of the pixel (None for a platform this version does not know).
    pub fn route(&self) -> Option<PixelRoute> {
        Some(PixelRoute {
            id: self.id.clone(),
            platform: self.platform()?,
            is_active: self.is_active != 0,
            server_side_enabled: self.server_side_enabled != 0,
            domains: self.domains(),
            event_names: self.event_names(),
        })
    }

    /// The API view: secrets are reported as set or not, never returned.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "platform": self.platform,
            "pixel_id": self.pixel_id,
            "is_active": self.is_active != 0,
            "server_side_enabled": self.server_side_enabled != 0,
            "test_event_code": self.test_event_code,
            "domains": self.domains(),
            "event_names": self.event_names(),
            "settings": self.settings(),
            "has_access_token": self.access_token_enc.is_some(),
            "has_api_secret": self.api_secret_enc.is_some(),
            "last_verified_at": self.last_verified_at,
            "last_verify_result": self.last_verify_result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "paused": self.paused_at.map(|at| json!({"since": at, "reason": self.paused_reason})),
            "browser_enabled": self.browser_enabled != 0,
            "browser_id": self.browser_id,
        })
    }
}

const PIXEL_COLUMNS: &str = "id, tenant_id, platform, pixel_id, access_token_enc, api_secret_enc, is_active, server_side_enabled, test_event_code, domains, event_names, last_verified_at, last_verify_result, created_at, updated_at, paused_reason, paused_at, settings, browser_enabled, browser_id";

pub async fn list_pixels(db: &D1Database, tenant_id: &str) -> Result<Vec<PixelRow>, ApiError> {
    all(
        db,
        &format!("SELECT {PIXEL_COLUMNS} FROM pixels WHERE tenant_id = ?1 ORDER BY created_at, id"),
        &[s(tenant_id)],
    )
    .await
}

pub async fn get_pixel(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<Option<PixelRow>, ApiError> {
    first(
        db,
        &format!("SELECT {PIXEL_COLUMNS} FROM pixels WHERE tenant_id = ?1 AND id = ?2"),
        &[s(tenant_id), s(id)],
    )
    .await
}

pub struct PixelWrite<'a> {
    pub id: &'a str,
    pub platform: Platform,
    pub pixel_id: &'a str,
    pub access_token_enc: Option<&'a str>,
    pub api_secret_enc: Option<&'a str>,
    pub is_active: bool,
    pub server_side_enabled: bool,
    pub test_event_code: Option<&'a str>,
    pub domains: &'a [String],
    pub event_names: &'a [String],
    pub settings: &'a PixelSettings,
    pub browser_enabled: bool,
    pub browser_id: Option<&'a str>,
}

pub async fn upsert_pixel(
    db: &D1Database,
    tenant_id: &str,
    p: &PixelWrite<'_>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO pixels (id, tenant_id, platform, pixel_id, access_token_enc, api_secret_enc, is_active, server_side_enabled, test_event_code, domains, event_names, created_at, updated_at, settings, browser_enabled, browser_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?11, ?11, ?13, ?14, ?15)
         ON CONFLICT(id) DO UPDATE SET pixel_id = excluded.pixel_id, access_token_enc = excluded.access_token_enc,
           api_secret_enc = excluded.api_secret_enc, is_active = excluded.is_active,
           server_side_enabled = excluded.server_side_enabled, test_event_code = excluded.test_event_code,
           domains = excluded.domains, event_names = excluded.event_names, settings = excluded.settings,
           updated_at = excluded.updated_at, browser_enabled = excluded.browser_enabled,
           browser_id = excluded.browser_id
         WHERE pixels.tenant_id = excluded.tenant_id",
        &[
            s(p.id),
            s(tenant_id),
            s(p.platform.as_str()),
            s(p.pixel_id),
            opt(p.access_token_enc),
            opt(p.api_secret_enc),
            n(p.is_active as i64),
            n(p.server_side_enabled as i64),
            opt(p.test_event_code),
            s(&json!(p.domains).to_string()),
            n(now),
            s(&json!(p.event_names).to_string()),
            s(&json!(p.settings).to_string()),
            n(p.browser_enabled as i64),
            opt(p.browser_id),
        ],
    )
    .await
    .map(|_| ())
}

/// Pauses the pixel with the platform's reason; true only for the call that paused it (the one
/// that notifies), false when it was paused already.
pub async fn pause_pixel(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE pixels SET paused_reason = ?3, paused_at = ?4 WHERE tenant_id = ?1 AND id = ?2 AND paused_at IS NULL",
        &[s(tenant_id), s(id), s(reason), n(now)],
    )
    .await?
        == 1)
}

/// Ends the pixel's pause (its credentials changed).
pub async fn unpause_pixel(db: &D1Database, tenant_id: &str, id: &str) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE pixels SET paused_reason = NULL, paused_at = NULL WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id)],
    )
    .await
    .map(|_| ())
}

/// Deletes the pixel (its event shards drop what waits for it).
pub async fn delete_pixel(db: &D1Database, tenant_id: &str, id: &str) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "DELETE FROM pixels WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id)],
    )
    .await?
        > 0)
}

pub async fn record_verify(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    result: &Value,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE pixels SET last_verified_at = ?3, last_verify_result = ?4 WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id), n(now), s(&result.to_string())],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
pub struct PixelActivityRow {
    pub id: String,
    pub delivered_24h: Option<i64>,
    pub failed_24h: Option<i64>,
    pub last_delivered_at: Option<i64>,
    pub health_checked_at: Option<i64>,
    pub health_result: Option<String>,
}

/// Per pixel of one tenant: final delivery states in the last 24 h, the last successful delivery
/// (from the hourly rollups) and the daily health check's last result.
pub async fn pixel_activity(
    db: &D1Database,
    tenant_id: &str,
    since_24h: i64,
) -> Result<Vec<PixelActivityRow>, ApiError> {
    all(
        db,
        "SELECT p.id,
           (SELECT sum(c.n) FROM delivery_counters c WHERE c.tenant_id = p.tenant_id AND c.pixel_id = p.id AND c.status = 'delivered' AND c.hour >= ?2 - ?2 % 3600) AS delivered_24h,
           (SELECT sum(c.n) FROM delivery_counters c WHERE c.tenant_id = p.tenant_id AND c.pixel_id = p.id AND c.status = 'failed' AND c.hour >= ?2 - ?2 % 3600) AS failed_24h,
           (SELECT max(c.last_at) FROM delivery_counters c WHERE c.pixel_id = p.id AND c.status = 'delivered') AS last_delivered_at,
           p.health_checked_at, p.health_result
         FROM pixels p WHERE p.tenant_id = ?1",
        &[s(tenant_id), n(since_24h)],
    )
    .await
}

#[derive(Deserialize)]
pub struct HealthCandidateRow {
    pub tenant_id: String,
    pub id: String,
    pub platform: String,
    pub pixel_id: String,
    pub test_event_code: Option<String>,
    pub created_at: i64,
    pub health_checked_at: Option<i64>,
    pub health_result: Option<String>,
    pub last_delivered_at: Option<i64>,
}

/// Every active server-side pixel whose last delivery (or creation) is older than `silent_before`.
pub async fn health_candidates(
    db: &D1Database,
    silent_before: i64,
) -> Result<Vec<HealthCandidateRow>, ApiError> {
    all(
        db,
        "SELECT * FROM (SELECT tenant_id, id, platform, pixel_id, test_event_code, created_at, health_checked_at, health_result,
               (SELECT max(c.last_at) FROM delivery_counters c WHERE c.pixel_id = pixels.id AND c.status = 'delivered') AS last_delivered_at
             FROM pixels WHERE is_active = 1 AND server_side_enabled = 1)
         WHERE coalesce(last_delivered_at, created_at) < ?1 ORDER BY tenant_id, created_at",
        &[n(silent_before)],
    )
    .await
}

pub async fn record_health(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    result: &Value,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE pixels SET health_checked_at = ?3, health_result = ?4 WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id), n(now), s(&result.to_string())],
    )
    .await
    .map(|_| ())
}

/// The tenant's active pixels whose browser tag the tag loads.
pub async fn browser_pixels(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Vec<BrowserPixel>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        platform: String,
        pixel_id: String,
        browser_id: Option<String>,
        event_names: String,
    }
    let rows: Vec<Row> = all(
        db,
        "SELECT platform, pixel_id, browser_id, event_names FROM pixels WHERE tenant_id = ?1 AND is_active = 1 AND browser_enabled = 1 ORDER BY created_at, id",
        &[s(tenant_id)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(BrowserPixel {
                platform: Platform::parse(&r.platform)?,
                pixel_id: r.pixel_id,
                browser_id: r.browser_id,
                event_names: serde_json::from_str(&r.event_names).unwrap_or_default(),
            })
        })
        .collect())
}
