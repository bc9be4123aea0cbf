//! Connecting ad accounts: the OAuth start (a signed, single-use `state`, and the cookie that
//! binds the flow to the browser that started it), the callback (a page naming the tenant the
//! person is about to connect to, nothing stored yet), and the confirmation (code exchange,
//! Meta's long-lived token, the granted ad accounts stored with sealed tokens and their jobs
//! registered with the tenant's Scheduler). Rules: `core::ads::oauth`.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use worker::{D1Database, Env, Headers, Request, Response};

use super::accounts::register_jobs;
use super::client::{google_creds, oauth_client, send, timeout_ms};
use super::settings::load_settings;
use super::upstream_error;
use crate::core::ads::accounts::{self, AdAccountInfo};
use crate::core::ads::google_ads;
use crate::core::ads::oauth::{self, OAuthState, TokenGrant};
use crate::core::ads::oauth_pages;
use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::core::cookies::{clear_cookie, set_cookie, CookieScope};
use crate::core::secrets::SealedField;
use crate::edge::auth::tenant_of_api_key;
use crate::edge::cookies::{request_cookies, with_cookies};
use crate::edge::request::{
    header, query_map, read_bytes, read_json, MAX_JSON_BYTES, MAX_SETTINGS_BYTES,
};
use crate::edge::store::ads::{
    self as store, AccountGrant, AccountRow, NewOAuthState, PendingGrantRow, SealedGrant,
};
use crate::edge::store::d1;
use crate::edge::{
    bindings, config, json_response, now_secs, random_bytes, secrets, uuid_v4, ApiError, ApiResult,
};

/// Where the platform sends the user back: under PUBLIC_BASE_URL when set, else this request's
/// origin.
fn redirect_uri(req: &Request, env: &Env, platform: AdsPlatform) -> String {
    let base = config::public_origin(env, req);
    format!(
        "{}/api/v1/ads/oauth/{}/callback",
        base.trim_end_matches('/'),
        platform.as_str()
    )
}

/// The binding cookie's name and scope: host-only, `Secure` (and `__Host-`) when the callback is
/// https.
fn binding_cookie(req: &Request, env: &Env, platform: AdsPlatform) -> (String, CookieScope) {
    let secure = redirect_uri(req, env, platform).starts_with("https://");
    (
        oauth::binding_cookie_name(platform, secure),
        CookieScope {
            domain: None,
            secure,
        },
    )
}

pub(super) async fn oauth_start(req: Request, env: &Env, platform: AdsPlatform) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = query_map(&req);
    let account_id = match q
        .get("account_id")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(a) => Some(match platform {
            AdsPlatform::Meta => {
                let id = a.trim_start_matches("act_");
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiError::field(
                        "account_id",
                        "must be a Meta ad account id (digits, optional act_)",
                    ));
                }
                id.to_string()
            }
            AdsPlatform::Google => google_ads::normalize_customer_id(a).ok_or_else(|| {
                ApiError::field("account_id", "must be a 10-digit Google Ads customer id")
            })?,
        }),
    };
    let login_customer_id = match q.get("login_customer_id").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(google_ads::normalize_customer_id(v).ok_or_else(|| {
            ApiError::field("login_customer_id", "must be a 10-digit customer id")
        })?),
    };
    let redirect = redirect_uri(&req, env, platform);
    let client = oauth_client(env, platform, &redirect)?;
    let now = now_secs();
    let nonce: String = random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keys = secrets::oauth_state_keys(env)?;
    let state = oauth::create_state(&keys[0], &tenant_id, platform, &nonce, now)
        .map_err(|e| ApiError::internal("oauth state", format!("{e:?}")))?;
    let expires_at = now + oauth::STATE_TTL_SECS;
    let db = bindings::db(env)?;
    store::save_oauth_state(
        &db,
        &NewOAuthState {
            nonce: &nonce,
            tenant_id: &tenant_id,
            platform,
            account_id: account_id.as_deref(),
            login_customer_id: login_customer_id.as_deref(),
            redirect_uri: &redirect,
            expires_at,
        },
        now,
    )
    .await?;
    let url = oauth::authorize_url(&config::ads_config(env), platform, &client, &state);
    // The browser that makes this call (the dashboard) is the one the callback will accept.
    let (name, scope) = binding_cookie(&req, env, platform);
    let binding = oauth::browser_binding(&keys[0], &nonce);
    let cookie = set_cookie(&name, &binding, oauth::STATE_TTL_SECS as u64, true, &scope);
    Ok(with_cookies(
        json_response(
            200,
            &json!({"authorize_url": url, "state": state, "expires_at": expires_at, "redirect_uri": redirect}),
        ),
        &[cookie],
    ))
}

/// A state that is signed, unexpired, for this platform, and bound to this browser.
fn verified_state(
    req: &Request,
    env: &Env,
    platform: AdsPlatform,
    state: &str,
    now: i64,
) -> Result<OAuthState, ApiError> {
    // Signed under the current key, or an older one during a rotation.
    let keys = secrets::oauth_state_keys(env)?;
    let mut checked = keys
        .iter()
        .map(|key| (key, oauth::verify_state(key, state, platform, now)));
    let first = checked.next().expect("at least one key");
    let (key, verified) = match first {
        (key, Ok(v)) => (key, v),
        (_, Err(e)) => checked
            .find_map(|(key, r)| r.ok().map(|v| (key, v)))
            .ok_or_else(|| ApiError {
                status: 400,
                code: "invalid_state",
                message: format!("state is not valid: {e:?}"),
                field: Some("state".into()),
            })?,
    };
    let (name, _) = binding_cookie(req, env, platform);
    let jar = request_cookies(req);
    if !oauth::browser_bound(key, &verified.nonce, jar.get(&name).map(String::as_str)) {
        return Err(ApiError::new(
            403,
            "oauth_browser_mismatch",
            "this connection was not started in this browser; start it again from your dashboard",
        ));
    }
    Ok(verified)
}

fn used_or_expired() -> ApiError {
    ApiError {
        status: 400,
        code: "invalid_state",
        message: "state was already used or has expired; start again".into(),
        field: Some("state".into()),
    }
}

/// An HTML page of the connection flow: never cached, framed or given a Referer.
fn html_page(html: String) -> Result<Response, ApiError> {
    let h = Headers::new();
    for (k, v) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("content-security-policy", oauth_pages::PAGE_CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        let _ = h.set(k, v);
    }
    Response::ok(html)
        .map(|r| r.with_headers(h))
        .map_err(|e| ApiError::internal("page", e))
}

async fn tenant_name(db: &worker::D1Database, tenant_id: &str) -> Result<String, ApiError> {
    Ok(d1::tenant_profile(db, tenant_id).await?.name)
}

/// The platform sends the person back here. Nothing is exchanged or stored yet: the answer is a
/// page naming the tenant the grant would go to, whose button posts to `confirm`.
pub(super) async fn oauth_callback(req: Request, env: &Env, platform: AdsPlatform) -> ApiResult {
    let q = query_map(&req);
    if let Some(err) = q.get("error") {
        return Err(ApiError::new(
            400,
            "oauth_denied",
            &format!("the platform returned error={err}"),
        ));
    }
    let (state, code) = state_and_code(&q)?;
    let now = now_secs();
    let verified = verified_state(&req, env, platform, state, now)?;
    let db = bindings::db(env)?;
    store::peek_oauth_state(&db, &verified.nonce, &verified.tenant_id, platform)
        .await?
        .filter(|r| r.expires_at >= now)
        .ok_or_else(used_or_expired)?;
    let name = tenant_name(&db, &verified.tenant_id).await?;
    html_page(oauth_pages::confirm_page(platform, &name, state, code))
}

fn state_and_code(q: &BTreeMap<String, String>) -> Result<(&str, &str), ApiError> {
    let state = q
        .get("state")
        .ok_or_else(|| ApiError::field("state", "is required"))?;
    let code = q
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::field("code", "is required"))?;
    Ok((state, code))
}

/// `POST …/confirm` (form: state, code), from the confirmation page: the person chose to connect.
/// The state is claimed (single use), the code exchanged and the granted accounts stored. The
/// answer is a page for a browser, JSON for anything else.
pub(super) async fn oauth_confirm(mut req: Request, env: &Env, platform: AdsPlatform) -> ApiResult {
    let body = read_bytes(&mut req, MAX_SETTINGS_BYTES).await?;
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (state, code) = state_and_code(&form)?;
    let now = now_secs();
    let verified = verified_state(&req, env, platform, state, now)?;
    let db = bindings::db(env)?;
    let row = store::claim_oauth_state(&db, &verified.nonce, &verified.tenant_id, platform)
        .await?
        .filter(|r| r.expires_at >= now)
        .ok_or_else(used_or_expired)?;
    let cfg = config::ads_config(env);
    let client = oauth_client(env, platform, &row.redirect_uri)?;
    let timeout = timeout_ms(env);
    let exchanged = send(
        &oauth::plan_code_exchange(&cfg, platform, &client, code),
        timeout,
    )
    .await;
    let mut grant = oauth::read_token_response(platform, &exchanged, now)
        .map_err(|f| upstream_error("code exchange", &f))?;
    if platform == AdsPlatform::Meta {
        // The code gives a short-lived token: exchange it for a ~60-day one.
        let long = send(
            &oauth::plan_meta_token_exchange(&cfg, &client, &grant.access_token),
            timeout,
        )
        .await;
        grant = oauth::read_token_response(platform, &long, now)
            .map_err(|f| upstream_error("long-lived token exchange", &f))?;
    }
    let infos = discover_accounts(
        env,
        platform,
        &grant,
        row.account_id.as_deref(),
        row.login_customer_id.as_deref(),
    )
    .await
    .map_err(|f| upstream_error("ad account lookup", &f))?;
    if infos.is_empty() {
        return Err(ApiError::new(
            400,
            "no_ad_accounts",
            "the granted user can reach no ad account",
        ));
    }
    let (name, scope) = binding_cookie(&req, env, platform);
    let clear = [clear_cookie(&name, &scope)];
    let wants_html = header(&req, "accept").is_some_and(|a| a.contains("text/html"));
    let tenant = tenant_name(&db, &row.tenant_id).await?;
    // More than one account and none named at the start: the person picks in the dashboard.
    if row.account_id.is_none() && infos.len() > 1 {
        let id = uuid_v4();
        let expires_at = now + PENDING_GRANT_TTL_SECS;
        let sealed = seal_grant(env, &grant, &row.tenant_id, &pending_row(&id))?;
        store::save_pending_grant(
            &db,
            &id,
            &sealed.grant(&row.tenant_id, platform, grant.expires_at),
            row.login_customer_id.as_deref(),
            &infos,
            expires_at,
            now,
        )
        .await?;
        if wants_html {
            let page = oauth_pages::choose_page(platform, &tenant, infos.len());
            return Ok(with_cookies(html_page(page)?, &clear));
        }
        let body = json!({"pending_grant": {"id": id, "platform": platform, "accounts": infos, "expires_at": expires_at}});
        return Ok(with_cookies(json_response(200, &body), &clear));
    }
    let connected = connect_accounts(
        env,
        &db,
        (&row.tenant_id, platform),
        &grant,
        &infos,
        row.login_customer_id.as_deref(),
        now,
    )
    .await?;
    if wants_html {
        let names: Vec<String> = connected
            .iter()
            .map(|a| format!("{} ({})", a.name, a.account_id))
            .collect();
        let page = oauth_pages::connected_page(platform, &tenant, &names);
        return Ok(with_cookies(html_page(page)?, &clear));
    }
    let connected: Vec<_> = connected.iter().map(|a| a.to_json()).collect();
    Ok(with_cookies(
        json_response(200, &json!({"connected": connected})),
        &clear,
    ))
}

/// How long a grant waits for the person to pick its accounts.
const PENDING_GRANT_TTL_SECS: i64 = 3600;

/// A grant's tokens, sealed for one row.
struct SealedTokens {
    access: String,
    refresh: Option<String>,
}

impl SealedTokens {
    fn grant<'a>(
        &'a self,
        tenant_id: &'a str,
        platform: AdsPlatform,
        expires_at: Option<i64>,
    ) -> SealedGrant<'a> {
        SealedGrant {
            tenant_id,
            platform,
            access_token_enc: &self.access,
            refresh_token_enc: self.refresh.as_deref(),
            token_expires_at: expires_at,
        }
    }
}

/// The row a pending grant's tokens are sealed for, until the person picks its accounts.
fn pending_row(id: &str) -> String {
    format!("ads_grant:{id}")
}

/// The grant's tokens sealed for `row` of the tenant (an account's `secrets::ads_row`, or a
/// pending grant's): a ciphertext opens in its own row only.
fn seal_grant(
    env: &Env,
    grant: &TokenGrant,
    tenant_id: &str,
    row: &str,
) -> Result<SealedTokens, ApiError> {
    let at = |field| SealedField {
        tenant_id,
        row,
        field,
    };
    Ok(SealedTokens {
        access: secrets::seal(env, &grant.access_token, &at("access_token"))?,
        refresh: match &grant.refresh_token {
            Some(r) => Some(secrets::seal(env, r, &at("refresh_token"))?),
            None => None,
        },
    })
}

/// A pending grant's tokens, opened to connect the accounts picked.
fn open_pending(env: &Env, row: &PendingGrantRow) -> Result<TokenGrant, ApiError> {
    let place = pending_row(&row.id);
    let open = |sealed: &str, field| {
        let at = SealedField {
            tenant_id: &row.tenant_id,
            row: &place,
            field,
        };
        secrets::open(env, sealed, &at)
    };
    Ok(TokenGrant {
        access_token: open(&row.access_token_enc, "access_token")?,
        refresh_token: row
            .refresh_token_enc
            .as_deref()
            .map(|r| open(r, "refresh_token"))
            .transpose()?,
        expires_at: row.token_expires_at,
    })
}

/// Stores the accounts with the grant's tokens, sealed for each account's own row (one account's
/// ciphertext opens nowhere else), and registers their jobs. An account reached through a Google
/// manager account is connected through it; an account whose platform names no currency is shown
/// in the tenant's default one, never a guessed one.
async fn connect_accounts(
    env: &Env,
    db: &D1Database,
    (tenant_id, platform): (&str, AdsPlatform),
    grant: &TokenGrant,
    infos: &[AdAccountInfo],
    login_customer_id: Option<&str>,
    now: i64,
) -> Result<Vec<AccountRow>, ApiError> {
    let default_currency = load_settings(db, tenant_id).await?.default_currency;
    let mut connected = Vec::new();
    for info in infos {
        let login = match (&info.parent, platform) {
            (Some(manager), AdsPlatform::Google) => Some(manager.id.as_str()),
            _ => login_customer_id,
        };
        let account_row = secrets::ads_row(platform.as_str(), &info.account_id);
        let tokens = seal_grant(env, grant, tenant_id, &account_row)?;
        let sealed = tokens.grant(tenant_id, platform, grant.expires_at);
        let account = store::connect_account(
            db,
            &uuid_v4(),
            &AccountGrant {
                grant: &sealed,
                info,
                currency: info.currency.as_deref().unwrap_or(&default_currency),
                login_customer_id: login,
            },
            now,
        )
        .await?;
        register_jobs(env, &account).await?;
        connected.push(account);
    }
    Ok(connected)
}

/// `GET /oauth/grants`: completed connections waiting for the person to pick their accounts.
pub(super) async fn list_grants(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let rows = store::pending_grants(&bindings::db(env)?, &tenant_id, now_secs()).await?;
    Ok(json_response(
        200,
        &json!({"grants": rows.iter().map(|g| g.to_json()).collect::<Vec<_>>()}),
    ))
}

/// `POST /oauth/grants/{id} {account_ids:[…]}`: connects the picked accounts of a pending grant
/// (single use: the grant is gone after).
pub(super) async fn pick_grant(mut req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let picked: Vec<String> = match body.get("account_ids") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::field(&format!("account_ids[{i}]"), "must be an account id")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::field(
                "account_ids",
                "must list the ad accounts to connect",
            ))
        }
    };
    let db = bindings::db(env)?;
    let now = now_secs();
    let Some(row) = store::pending_grants(&db, &tenant_id, now)
        .await?
        .into_iter()
        .find(|g| g.id == id)
    else {
        return Err(ApiError::not_found("pending connection"));
    };
    let offered = row.accounts();
    let mut chosen = Vec::new();
    for (i, account_id) in picked.iter().enumerate() {
        let found = offered
            .iter()
            .find(|a| &a.account_id == account_id)
            .ok_or_else(|| {
                ApiError::field(
                    &format!("account_ids[{i}]"),
                    "is not an ad account this connection reaches",
                )
            })?;
        if !chosen.contains(&found) {
            chosen.push(found);
        }
    }
    let row = store::claim_pending_grant(&db, &tenant_id, id, now)
        .await?
        .ok_or_else(|| ApiError::not_found("pending connection"))?;
    let platform = AdsPlatform::parse(&row.platform)
        .ok_or_else(|| ApiError::internal("pending grant", "unknown platform"))?;
    let grant = open_pending(env, &row)?;
    let chosen: Vec<AdAccountInfo> = chosen.into_iter().cloned().collect();
    let connected = connect_accounts(
        env,
        &db,
        (&row.tenant_id, platform),
        &grant,
        &chosen,
        row.login_customer_id.as_deref(),
        now,
    )
    .await?;
    Ok(json_response(
        200,
        &json!({"connected": connected.iter().map(|a| a.to_json()).collect::<Vec<_>>()}),
    ))
}

/// `DELETE /oauth/grants/{id}`: the person connects none of them; the tokens are dropped.
pub(super) async fn discard_grant(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    store::claim_pending_grant(&bindings::db(env)?, &tenant_id, id, now_secs())
        .await?
        .ok_or_else(|| ApiError::not_found("pending connection"))?;
    Ok(json_response(200, &json!({"discarded": true, "id": id})))
}

/// The ad accounts the grant reaches: the one asked for at the start, else every one.
async fn discover_accounts(
    env: &Env,
    platform: AdsPlatform,
    grant: &TokenGrant,
    account_id: Option<&str>,
    login: Option<&str>,
) -> Result<Vec<AdAccountInfo>, ApiFailure> {
    let cfg = config::ads_config(env);
    let timeout = timeout_ms(env);
    let token = &grant.access_token;
    match platform {
        AdsPlatform::Meta => match account_id {
            Some(id) => Ok(vec![accounts::read_meta_account(
                &send(&accounts::plan_meta_account(&cfg, token, id), timeout).await,
            )?]),
            None => accounts::read_meta_accounts(
                &send(&accounts::plan_meta_accounts(&cfg, token), timeout).await,
            ),
        },
        AdsPlatform::Google => {
            let creds = google_creds(env, login, token);
            let ids = match account_id {
                Some(id) => vec![id.to_string()],
                None => accounts::read_google_accessible_customers(
                    &send(
                        &accounts::plan_google_accessible_customers(&cfg, &creds),
                        timeout,
                    )
                    .await,
                )?,
            };
            let mut out = Vec::new();
            for id in ids {
                let r = send(&accounts::plan_google_customer(&cfg, &creds, &id), timeout).await;
                let info = accounts::read_google_customer(&r, &id)?;
                if !info.manager || account_id.is_some() {
                    out.push(info);
                    continue;
                }
                // A manager account has no campaigns: the accounts it manages are offered.
                let under = google_creds(env, Some(&info.account_id), token);
                let r = send(
                    &accounts::plan_google_customer_clients(&cfg, &under, &info.account_id),
                    timeout,
                )
                .await;
                out.extend(
                    accounts::read_google_customer_clients(&r, &info)?
                        .into_iter()
                        .filter(|c| !c.manager),
                );
            }
            Ok(out)
        }
    }
}
