//! Connecting ads accounts: OAuth 2.0 authorization-code flow for Meta and Google, the CSRF
//! `state`, token exchange and refresh.
//!
//! Rules followed (RFC 6749, RFC 2104 / RFC 4231, Facebook Login "Manually Build a Login Flow"
//! and "Long-Lived Access Tokens", Google Identity "OAuth 2.0 for Web Server Applications",
//! Google Ads API "OAuth"):
//! - `state` = base64url(`tenant_id|platform|expires_at|nonce`) `.` base64url(HMAC-SHA256 of
//!   that payload under a server secret); valid for [`STATE_TTL_SECS`] (10 min). The core
//!   checks signature, expiry and platform; single use is the caller's job: store the nonce
//!   when the flow starts (TTL = expiry) and delete it on the callback, refusing a state whose
//!   nonce is gone;
//! - the flow is bound to the browser that started it (against account injection: a victim sent
//!   an attacker's authorize URL must not connect the victim's ad account to the attacker's
//!   tenant). The start sets an HttpOnly, SameSite=Lax cookie holding [`browser_binding`] of the
//!   state's nonce (an HMAC under the same key, never derivable from the state itself); the
//!   callback and the confirmation refuse a state without it. The callback then only shows the
//!   person which tenant they are connecting (`oauth_pages`); tokens are exchanged and stored on
//!   their confirmation, a same-origin POST that carries the cookie again;
//! - Meta consent screen: `{www.facebook.com}/{version}/dialog/oauth?client_id&redirect_uri&
//!   state&response_type=code&scope=ads_read,ads_management` (insights need `ads_read`, custom
//!   audiences `ads_management`);
//! - Google consent screen: `{accounts.google.com}/o/oauth2/v2/auth?...&scope=
//!   https://www.googleapis.com/auth/adwords&access_type=offline&prompt=consent` — offline
//!   access with forced consent so a refresh token is always returned;
//! - code → token: Meta `{graph}/{version}/oauth/access_token` (client_id, client_secret,
//!   redirect_uri, code), Google `{oauth2.googleapis.com}/token`
//!   (`grant_type=authorization_code`). Both are sent as POST with a form body so that no
//!   client secret or token ever sits in a URL (Meta documents GET with query parameters; its
//!   Graph endpoints accept the same parameters as a POST form, as the common OAuth client
//!   libraries send them);
//! - Meta tokens from the code are short-lived; they are exchanged for a ~60-day token with
//!   `grant_type=fb_exchange_token`, and exchanged again 7 days before expiry. Meta
//!   does not extend a token that way indefinitely: [`refresh_extended`] tells whether the
//!   expiry moved; if not, the tenant must reconnect before it passes;
//! - Google access tokens live one hour; they are refreshed with
//!   `grant_type=refresh_token` when less than [`ACCESS_TOKEN_MARGIN_SECS`] remain;
//!   `invalid_grant` means the refresh token was revoked or expired → reconnect.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use url::form_urlencoded;

use super::meta_insights::read_meta_response;
use super::{AdsConfig, AdsPlatform, ApiFailure};
use crate::core::destinations::snippet;
use crate::core::outbound::{InboundResponse, Method, OutboundRequest};
use crate::core::secrets::constant_time_eq;

pub const STATE_TTL_SECS: i64 = 600;
pub const ACCESS_TOKEN_MARGIN_SECS: i64 = 300;
/// Ads reads and writes; with the pages' lead permissions, so the Meta Lead Ads webhook can read
/// a connected page's token and its leads and subscribe the page to the app's webhook.
pub const META_SCOPES: &str =
    "ads_read,ads_management,pages_show_list,pages_read_engagement,pages_manage_metadata,leads_retrieval";
pub const GOOGLE_ADS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";

/// Our app's registration with a platform. The secret never reaches a log through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<set>")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// HMAC-SHA256 (RFC 2104), shared with the visitor cookie's signature.
pub use crate::core::hash::hmac_sha256;

/// What a verified `state` proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    pub tenant_id: String,
    pub platform: AdsPlatform,
    pub expires_at: i64,
    /// Must be consumed by the caller (single use).
    pub nonce: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// tenant id or nonce empty or containing `|`.
    InvalidInput,
    Malformed,
    BadSignature,
    Expired,
    WrongPlatform,
}

fn sign(key: &[u8], payload: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(key, payload.as_bytes()))
}

/// A fresh `state` for `tenant_id` connecting `platform`; `nonce` is random from the caller.
pub fn create_state(
    key: &[u8],
    tenant_id: &str,
    platform: AdsPlatform,
    nonce: &str,
    now: i64,
) -> Result<String, StateError> {
    let valid = |s: &str| !s.is_empty() && !s.contains('|');
    if !valid(tenant_id) || !valid(nonce) {
        return Err(StateError::InvalidInput);
    }
    let payload = format!(
        "{tenant_id}|{}|{}|{nonce}",
        platform.as_str(),
        now + STATE_TTL_SECS
    );
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        sign(key, &payload)
    ))
}

pub fn verify_state(
    key: &[u8],
    state: &str,
    platform: AdsPlatform,
    now: i64,
) -> Result<OAuthState, StateError> {
    let (encoded, signature) = state.split_once('.').ok_or(StateError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(StateError::Malformed)?;
    if !constant_time_eq(&sign(key, &payload), signature) {
        return Err(StateError::BadSignature);
    }
    let parts: Vec<&str> = payload.split('|').collect();
    let [tenant_id, signed_platform, expires_at, nonce] = parts[..] else {
        return Err(StateError::Malformed);
    };
    let expires_at: i64 = expires_at.parse().map_err(|_| StateError::Malformed)?;
    if now > expires_at {
        return Err(StateError::Expired);
    }
    if signed_platform != platform.as_str() {
        return Err(StateError::WrongPlatform);
    }
    Ok(OAuthState {
        tenant_id: tenant_id.to_string(),
        platform,
        expires_at,
        nonce: nonce.to_string(),
    })
}

/// The value of the browser-binding cookie for the flow whose state carries `nonce`.
pub fn browser_binding(key: &[u8], nonce: &str) -> String {
    sign(key, &format!("browser|{nonce}"))
}

/// Does `cookie` (the request's binding cookie, if any) bind this flow to this browser?
pub fn browser_bound(key: &[u8], nonce: &str, cookie: Option<&str>) -> bool {
    cookie.is_some_and(|c| constant_time_eq(&browser_binding(key, nonce), c))
}

/// The binding cookie's name: `__Host-` (no Domain, Path=/, Secure: no sibling subdomain can set
/// it) whenever the callback is https.
pub fn binding_cookie_name(platform: AdsPlatform, secure: bool) -> String {
    let prefix = if secure { "__Host-" } else { "" };
    format!("{prefix}pg_oauth_{}", platform.as_str())
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

fn post_form(url: String, pairs: &[(&str, &str)]) -> OutboundRequest {
    OutboundRequest {
        method: Method::Post,
        url,
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(form(pairs)),
    }
}

/// Where `/api/v1/ads/oauth/{platform}/start` redirects the browser.
pub fn authorize_url(
    cfg: &AdsConfig,
    platform: AdsPlatform,
    client: &OAuthClient,
    state: &str,
) -> String {
    match platform {
        AdsPlatform::Meta => format!(
            "{}/{}/dialog/oauth?{}",
            cfg.meta_dialog_base.trim_end_matches('/'),
            cfg.meta_api_version,
            form(&[
                ("client_id", &client.client_id),
                ("redirect_uri", &client.redirect_uri),
                ("state", state),
                ("response_type", "code"),
                ("scope", META_SCOPES),
            ])
        ),
        AdsPlatform::Google => format!(
            "{}/o/oauth2/v2/auth?{}",
            cfg.google_accounts_base.trim_end_matches('/'),
            form(&[
                ("client_id", &client.client_id),
                ("redirect_uri", &client.redirect_uri),
                ("response_type", "code"),
                ("scope", GOOGLE_ADS_SCOPE),
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
                ("state", state),
            ])
        ),
    }
}

fn meta_token_url(cfg: &AdsConfig) -> String {
    cfg.meta_url("oauth/access_token")
}

fn google_token_url(cfg: &AdsConfig) -> String {
    format!("{}/token", cfg.google_oauth_base.trim_end_matches('/'))
}

/// The callback's `code` → tokens.
pub fn plan_code_exchange(
    cfg: &AdsConfig,
    platform: AdsPlatform,
    client: &OAuthClient,
    code: &str,
) -> OutboundRequest {
    let common = [
        ("client_id", client.client_id.as_str()),
        ("client_secret", client.client_secret.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code", code),
    ];
    match platform {
        AdsPlatform::Meta => post_form(meta_token_url(cfg), &common),
        AdsPlatform::Google => {
            let mut pairs = common.to_vec();
            pairs.push(("grant_type", "authorization_code"));
            post_form(google_token_url(cfg), &pairs)
        }
    }
}

/// Meta: a short-lived (or soon expiring long-lived) user token → a ~60-day token.
pub fn plan_meta_token_exchange(
    cfg: &AdsConfig,
    client: &OAuthClient,
    token: &str,
) -> OutboundRequest {
    post_form(
        meta_token_url(cfg),
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
            ("fb_exchange_token", token),
        ],
    )
}

/// Google: refresh token → a new one-hour access token.
pub fn plan_google_refresh(
    cfg: &AdsConfig,
    client: &OAuthClient,
    refresh_token: &str,
) -> OutboundRequest {
    post_form(
        google_token_url(cfg),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
        ],
    )
}

/// Tokens from a token endpoint, to be encrypted before they are stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: String,
    /// Google only, and only when consent was given (it is kept from before otherwise).
    pub refresh_token: Option<String>,
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<set>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<set>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

pub fn read_token_response(
    platform: AdsPlatform,
    r: &InboundResponse,
    now: i64,
) -> Result<TokenGrant, ApiFailure> {
    let body = match platform {
        AdsPlatform::Meta => read_meta_response(r)?,
        AdsPlatform::Google => read_google_token_body(r)?,
    };
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiFailure::Permanent {
            reason: "token endpoint answered without access_token".into(),
        })?;
    Ok(TokenGrant {
        access_token: access_token.to_string(),
        refresh_token: body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_at: body
            .get("expires_in")
            .and_then(Value::as_i64)
            .map(|secs| now + secs),
    })
}

/// Google's token endpoint errors are `{"error": "invalid_grant", "error_description": ...}`.
fn read_google_token_body(r: &InboundResponse) -> Result<Value, ApiFailure> {
    let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
    if (200..300).contains(&r.status) {
        return parsed.ok_or_else(|| ApiFailure::Permanent {
            reason: "Google token endpoint answered a body that is not JSON".into(),
        });
    }
    let error = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str);
    let description = parsed
        .as_ref()
        .and_then(|v| v.get("error_description"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reason = match error {
        Some(code) => format!("Google OAuth {code}: {}", snippet(description)),
        None => format!("HTTP {}: {}", r.status, snippet(&r.body)),
    };
    Err(match error {
        Some("invalid_grant") => ApiFailure::AuthInvalid { reason },
        // Our app's credentials are wrong: reconnecting the account cannot fix that.
        Some("invalid_client" | "unauthorized_client") => ApiFailure::Permanent { reason },
        _ => ApiFailure::from_status(r.status, r.retry_after.as_deref(), reason),
    })
}

/// Google: refresh before a call when the access token is missing, expired or about to be.
pub fn access_token_needs_refresh(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|exp| exp - now < ACCESS_TOKEN_MARGIN_SECS)
}

/// Meta: whether an exchange pushed the expiry back. If not, the tenant must reconnect.
pub fn refresh_extended(previous_expires_at: Option<i64>, grant: &TokenGrant) -> bool {
    match (previous_expires_at, grant.expires_at) {
        (Some(before), Some(after)) => after > before,
        // No expiry in the answer (a token that does not expire) or none known before.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_768_456_800;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn client() -> OAuthClient {
        OAuthClient {
            client_id: "1122334455".into(),
            client_secret: "app-secret-xyz".into(),
            redirect_uri: "https://gw.example.com/api/v1/ads/oauth/meta/callback".into(),
        }
    }

    fn form_pairs(body: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_flow_is_bound_to_the_browser_that_started_it() {
        let key = b"k".repeat(32);
        let cookie = browser_binding(&key, "nonce-1");
        assert!(browser_bound(&key, "nonce-1", Some(&cookie)));
        assert!(!browser_bound(&key, "nonce-1", None));
        assert!(
            !browser_bound(&key, "nonce-2", Some(&cookie)),
            "another flow's cookie"
        );
        assert!(!browser_bound(b"other key", "nonce-1", Some(&cookie)));
        assert!(!browser_bound(&key, "nonce-1", Some("")));
        let state = create_state(&key, "t1", AdsPlatform::Meta, "nonce-1", 0).unwrap();
        assert!(
            !state.contains(&cookie),
            "the state does not give the cookie away"
        );
        assert_ne!(cookie, sign(&key, "nonce-1"));
        assert_eq!(
            binding_cookie_name(AdsPlatform::Google, true),
            "__Host-pg_oauth_google"
        );
        assert_eq!(
            binding_cookie_name(AdsPlatform::Meta, false),
            "pg_oauth_meta"
        );
    }

    #[test]
    fn state_round_trips_and_binds_tenant_platform_and_expiry() {
        let state = create_state(KEY, "tn_8f2c", AdsPlatform::Meta, "n0nce-7Hq", NOW).unwrap();
        assert!(!state.contains('|') && !state.contains('+') && !state.contains('/'));
        let verified = verify_state(KEY, &state, AdsPlatform::Meta, NOW + 599).unwrap();
        assert_eq!(
            verified,
            OAuthState {
                tenant_id: "tn_8f2c".into(),
                platform: AdsPlatform::Meta,
                expires_at: NOW + 600,
                nonce: "n0nce-7Hq".into(),
            }
        );
        assert_eq!(
            verify_state(KEY, &state, AdsPlatform::Meta, NOW + 601),
            Err(StateError::Expired)
        );
        assert_eq!(
            verify_state(KEY, &state, AdsPlatform::Google, NOW),
            Err(StateError::WrongPlatform)
        );
        assert_eq!(
            verify_state(b"another key", &state, AdsPlatform::Meta, NOW),
            Err(StateError::BadSignature)
        );
    }

    #[test]
    fn forged_or_broken_states_are_refused() {
        let state = create_state(KEY, "tn_8f2c", AdsPlatform::Google, "abc", NOW).unwrap();
        let (_, signature) = state.split_once('.').unwrap();
        // Another tenant with the first tenant's signature.
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode("tn_evil|google|9999999999|abc")
        );
        assert_eq!(
            verify_state(KEY, &forged, AdsPlatform::Google, NOW),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            verify_state(KEY, "no-dot", AdsPlatform::Google, NOW),
            Err(StateError::Malformed)
        );
        assert_eq!(
            verify_state(KEY, "!!!.sig", AdsPlatform::Google, NOW),
            Err(StateError::Malformed)
        );
        assert_eq!(
            create_state(KEY, "a|b", AdsPlatform::Meta, "n", NOW),
            Err(StateError::InvalidInput)
        );
        assert_eq!(
            create_state(KEY, "t", AdsPlatform::Meta, "", NOW),
            Err(StateError::InvalidInput)
        );
    }

    #[test]
    fn authorize_urls() {
        let cfg = AdsConfig::default();
        let meta = authorize_url(&cfg, AdsPlatform::Meta, &client(), "st.ate");
        assert_eq!(
            meta,
            "https://www.facebook.com/v24.0/dialog/oauth?client_id=1122334455&redirect_uri=https%3A%2F%2Fgw.example.com%2Fapi%2Fv1%2Fads%2Foauth%2Fmeta%2Fcallback&state=st.ate&response_type=code&scope=ads_read%2Cads_management%2Cpages_show_list%2Cpages_read_engagement%2Cpages_manage_metadata%2Cleads_retrieval"
        );
        let google = authorize_url(&cfg, AdsPlatform::Google, &client(), "st.ate");
        let parsed = url::Url::parse(&google).unwrap();
        assert_eq!(parsed.host_str(), Some("accounts.google.com"));
        assert_eq!(parsed.path(), "/o/oauth2/v2/auth");
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(q.contains(&("scope".into(), GOOGLE_ADS_SCOPE.into())));
        assert!(q.contains(&("access_type".into(), "offline".into())));
        assert!(q.contains(&("prompt".into(), "consent".into())));
        assert!(q.contains(&("state".into(), "st.ate".into())));
        assert!(!google.contains("app-secret"));
    }

    #[test]
    fn token_requests_keep_secrets_out_of_urls() {
        let cfg = AdsConfig {
            google_oauth_base: "http://127.0.0.1:8790/".into(),
            ..AdsConfig::default()
        };
        let meta = plan_code_exchange(&cfg, AdsPlatform::Meta, &client(), "AQDcode");
        assert_eq!(
            (meta.method, meta.url.as_str()),
            (
                Method::Post,
                "https://graph.facebook.com/v24.0/oauth/access_token"
            )
        );
        assert_eq!(
            meta.header_pairs(),
            [("content-type", "application/x-www-form-urlencoded")]
        );
        assert_eq!(
            form_pairs(meta.body.as_ref().unwrap()),
            [
                ("client_id".to_string(), "1122334455".to_string()),
                ("client_secret".into(), "app-secret-xyz".into()),
                ("redirect_uri".into(), client().redirect_uri),
                ("code".into(), "AQDcode".into()),
            ]
        );
        let google = plan_code_exchange(&cfg, AdsPlatform::Google, &client(), "4/0Ab");
        assert_eq!(google.url, "http://127.0.0.1:8790/token");
        assert!(form_pairs(google.body.as_ref().unwrap())
            .contains(&("grant_type".into(), "authorization_code".into())));

        let exchange = plan_meta_token_exchange(&cfg, &client(), "EAAshort");
        let pairs = form_pairs(exchange.body.as_ref().unwrap());
        assert_eq!(
            pairs[0],
            ("grant_type".to_string(), "fb_exchange_token".to_string())
        );
        assert_eq!(
            pairs[3],
            ("fb_exchange_token".to_string(), "EAAshort".to_string())
        );
        assert!(!exchange.url.contains("EAAshort") && !exchange.url.contains("secret"));

        let refresh = plan_google_refresh(&cfg, &client(), "1//0refresh");
        assert_eq!(
            form_pairs(refresh.body.as_ref().unwrap())[..2],
            [
                ("grant_type".to_string(), "refresh_token".to_string()),
                ("refresh_token".into(), "1//0refresh".into())
            ]
        );
        assert!(!format!("{:?}", client()).contains("app-secret"));
    }

    #[test]
    fn token_responses() {
        let ok = |body: Value| InboundResponse {
            status: 200,
            retry_after: None,
            body: body.to_string(),
        };
        let meta = read_token_response(
            AdsPlatform::Meta,
            &ok(
                json!({"access_token": "EAAlong", "token_type": "bearer", "expires_in": 5_183_944}),
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (
                meta.access_token.as_str(),
                meta.expires_at,
                meta.refresh_token.as_deref()
            ),
            ("EAAlong", Some(NOW + 5_183_944), None)
        );
        assert!(!format!("{meta:?}").contains("EAAlong"));
        let google = read_token_response(AdsPlatform::Google, &ok(json!({"access_token": "ya29.new", "expires_in": 3599, "refresh_token": "1//0r", "scope": GOOGLE_ADS_SCOPE, "token_type": "Bearer"})), NOW).unwrap();
        assert_eq!(
            (google.expires_at, google.refresh_token.as_deref()),
            (Some(NOW + 3599), Some("1//0r"))
        );

        let revoked = InboundResponse { status: 400, retry_after: None, body: json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}).to_string() };
        assert_eq!(
            read_token_response(AdsPlatform::Google, &revoked, NOW).unwrap_err(),
            ApiFailure::AuthInvalid {
                reason: "Google OAuth invalid_grant: Token has been expired or revoked.".into()
            }
        );
        let bad_client = InboundResponse {
            status: 401,
            retry_after: None,
            body: json!({"error": "invalid_client"}).to_string(),
        };
        assert!(matches!(
            read_token_response(AdsPlatform::Google, &bad_client, NOW),
            Err(ApiFailure::Permanent { .. })
        ));
        let down = InboundResponse {
            status: 503,
            retry_after: None,
            body: "unavailable".into(),
        };
        assert!(matches!(
            read_token_response(AdsPlatform::Google, &down, NOW),
            Err(ApiFailure::Retryable { .. })
        ));
        let expired_code = InboundResponse { status: 400, retry_after: None, body: json!({"error": {"message": "This authorization code has expired.", "type": "OAuthException", "code": 100, "error_subcode": 36007}}).to_string() };
        assert!(matches!(
            read_token_response(AdsPlatform::Meta, &expired_code, NOW),
            Err(ApiFailure::Permanent { .. })
        ));
        assert!(
            read_token_response(AdsPlatform::Meta, &ok(json!({"token_type": "bearer"})), NOW)
                .is_err()
        );
    }

    #[test]
    fn refresh_timing() {
        assert!(access_token_needs_refresh(None, NOW));
        assert!(access_token_needs_refresh(Some(NOW + 299), NOW));
        assert!(!access_token_needs_refresh(Some(NOW + 3000), NOW));
        let grant = |exp| TokenGrant {
            access_token: "t".into(),
            refresh_token: None,
            expires_at: exp,
        };
        assert!(refresh_extended(Some(NOW), &grant(Some(NOW + 5_000_000))));
        assert!(!refresh_extended(Some(NOW + 100), &grant(Some(NOW + 100))));
        assert!(refresh_extended(Some(NOW), &grant(None)));
    }
}
