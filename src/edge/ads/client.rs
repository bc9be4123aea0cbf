//! The ads platform client: sends what `core::ads` planned, keeping the large answers whole;
//! Meta calls within the account's hourly call budget; the access token of an account, refreshed
//! when Google's one-hour token is due.

use worker::{D1Database, Env};

use crate::core::ads::google_ads::GoogleAdsCredentials;
use crate::core::ads::meta_insights::CallBudget;
use crate::core::ads::oauth::{self, OAuthClient};
use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::core::outbound::{InboundResponse, OutboundRequest};
use crate::edge::store::ads::{self as store, AccountRow};
use crate::edge::{config, fetch, now_secs, secrets, ApiError};

/// Ads API answers (insights pages of 500 rows) are far larger than tracking answers.
const MAX_ADS_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Ads calls get at least 30 s, whatever the tracking timeout.
pub(super) fn timeout_ms(env: &Env) -> u64 {
    config::outbound_timeout_ms(env).max(30_000)
}

/// Like `fetch::send`, but keeps the whole answer (insights pages are large).
pub(super) async fn send(req: &OutboundRequest, timeout_ms: u64) -> InboundResponse {
    fetch::send_limited(req, timeout_ms, MAX_ADS_RESPONSE_BYTES).await
}

/// Why a job did not complete.
pub enum RunError {
    Failed(ApiFailure),
    /// Meta's hourly call budget is spent: try again then, nothing failed.
    Deferred(i64),
}

impl From<ApiFailure> for RunError {
    fn from(f: ApiFailure) -> Self {
        RunError::Failed(f)
    }
}

/// Our own failure (storage, configuration) during a job: retryable.
pub(super) fn internal_failure(e: ApiError) -> RunError {
    RunError::Failed(ApiFailure::Retryable {
        reason: format!("internal: {}", e.message),
    })
}

/// Sends one Meta call within the account's hourly budget (200 calls per hour).
pub(super) async fn meta_call(
    req: &OutboundRequest,
    budget: &mut CallBudget,
    timeout: u64,
) -> Result<InboundResponse, RunError> {
    let now = now_secs();
    if budget.remaining(now) == 0 {
        return Err(RunError::Deferred(budget.available_at(now)));
    }
    budget.record(now);
    Ok(send(req, timeout).await)
}

pub(super) fn oauth_client(
    env: &Env,
    platform: AdsPlatform,
    redirect_uri: &str,
) -> Result<OAuthClient, ApiError> {
    let (client_id, client_secret) = config::oauth_app(env, platform)?;
    Ok(OAuthClient {
        client_id,
        client_secret,
        redirect_uri: redirect_uri.to_string(),
    })
}

pub(super) fn google_creds(
    env: &Env,
    login: Option<&str>,
    access_token: &str,
) -> GoogleAdsCredentials {
    GoogleAdsCredentials {
        developer_token: config::google_ads_developer_token(env),
        login_customer_id: login.map(str::to_string),
        access_token: access_token.to_string(),
    }
}

/// Opens a stored token; an unreadable one means the account must be reconnected.
pub(super) fn open_token(
    env: &Env,
    account: &AccountRow,
    sealed: &str,
    field: &str,
) -> Result<String, ApiFailure> {
    token_field(account, field)
        .open(env, sealed)
        .map_err(|e| match e.code {
            "secret_unreadable" => ApiFailure::AuthInvalid {
                reason: format!("stored token unreadable: {}", e.message),
            },
            _ => ApiFailure::Permanent { reason: e.message },
        })
}

/// A new access token of `account`, sealed for its row.
pub(super) fn seal_access_token(
    env: &Env,
    account: &AccountRow,
    token: &str,
) -> Result<String, ApiError> {
    token_field(account, "access_token").seal(env, token)
}

/// Where `account`'s token `field` is sealed.
fn token_field<'a>(account: &'a AccountRow, field: &'a str) -> secrets::AdsField<'a> {
    secrets::AdsField {
        tenant_id: &account.tenant_id,
        platform: &account.platform,
        account_id: &account.account_id,
        field,
    }
}

/// The token to call the platform with; refreshes Google's one-hour access token when due.
pub(super) async fn access_token(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
) -> Result<String, RunError> {
    let token = open_token(env, account, &account.access_token_enc, "access_token")?;
    if account.platform() == AdsPlatform::Meta {
        return Ok(token);
    }
    let now = now_secs();
    if !oauth::access_token_needs_refresh(account.token_expires_at, now) {
        return Ok(token);
    }
    let Some(refresh_enc) = &account.refresh_token_enc else {
        return Err(RunError::Failed(ApiFailure::AuthInvalid {
            reason: "no Google refresh token stored; reconnect the account".into(),
        }));
    };
    let refresh = open_token(env, account, refresh_enc, "refresh_token")?;
    let client = oauth_client(env, AdsPlatform::Google, "")
        .map_err(|e| RunError::Failed(ApiFailure::Permanent { reason: e.message }))?;
    let r = send(
        &oauth::plan_google_refresh(&config::ads_config(env), &client, &refresh),
        timeout_ms(env),
    )
    .await;
    let grant = oauth::read_token_response(AdsPlatform::Google, &r, now)?;
    let enc = seal_access_token(env, account, &grant.access_token).map_err(internal_failure)?;
    store::set_access_token(db, &account.id, &enc, grant.expires_at, now)
        .await
        .map_err(internal_failure)?;
    Ok(grant.access_token)
}
