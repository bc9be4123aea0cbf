//! Which ad accounts an OAuth grant reaches, and their name and currency.
//!
//! Rules followed (Marketing API "Ad Account" reference, Google Ads API
//! `CustomerService.ListAccessibleCustomers` and the `customer` GAQL resource):
//! - Meta: `GET {graph}/{version}/act_{id}?fields=account_id,name,currency,account_status,
//!   disable_reason,business{id,name}` for one account, `GET .../me/adaccounts?fields=...&limit=100`
//!   for every account the user can reach (first page only: a tenant connecting more than 100
//!   accounts names the one it wants with `account_id`); an ad account's `business` is the
//!   Business Manager that owns it (none for a personal ad account);
//! - Google: `GET {base}/{version}/customers:listAccessibleCustomers` (developer token and
//!   bearer token, no login-customer-id) answers `{resourceNames:["customers/123..."]}`; name,
//!   currency, status and whether it is a manager (MCC) come from `SELECT customer.id,
//!   customer.descriptive_name, customer.currency_code, customer.status, customer.manager FROM
//!   customer` through searchStream. A manager account has no campaigns of its own: the accounts
//!   it manages are read with `SELECT customer_client.id, … FROM customer_client WHERE
//!   customer_client.level = 1` under it (the manager as `login-customer-id`), and are connected
//!   through it;
//! - the account currency is the one platforms report money in; it is kept with the account.
//!   An answer without one leaves it unknown: the caller uses the tenant's default currency
//!   (`settings`), never a guess;
//! - account status ([`AccountStatus`]): Meta's `account_status` 1 and 201 are active, 2
//!   disabled, 3 and 8 unsettled (unpaid balance), 7 pending risk review, 9 in the grace period of
//!   a payment problem, 100 pending closure, 101 and 202 closed; its `disable_reason` says why
//!   an account is disabled. Google's `customer.status` ENABLED is active, SUSPENDED disabled,
//!   CANCELED and CLOSED closed. Anything else is unknown (not alarmed on).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::google_ads::{
    customer_path, post as google_post, read_google_response, GoogleAdsCredentials,
};
use super::meta_insights::{ad_account_node, read_meta_response};
use super::{bearer, AdsConfig, ApiFailure};
use crate::core::outbound::{InboundResponse, Method, OutboundRequest};

pub const META_ACCOUNT_FIELDS: &str =
    "account_id,name,currency,account_status,disable_reason,business{id,name}";
pub const CUSTOMER_QUERY: &str =
    "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.status, customer.manager FROM customer";
pub const CUSTOMER_CLIENTS_QUERY: &str = "SELECT customer_client.id, customer_client.descriptive_name, \
    customer_client.currency_code, customer_client.status, customer_client.manager FROM customer_client \
    WHERE customer_client.level = 1";

/// An ad account as connected: the platform's id, a display name, its currency (when the
/// platform names it) and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdAccountInfo {
    pub account_id: String,
    pub name: String,
    pub currency: Option<String>,
    pub status: AccountStatus,
    /// The platform's own words for the status ("account_status 2, disable_reason 1").
    pub status_detail: String,
    /// The Meta Business Manager that owns the account, or the Google manager account it is
    /// reached through.
    #[serde(default)]
    pub parent: Option<AccountParent>,
    /// A Google manager account (it has no campaigns of its own).
    #[serde(default)]
    pub manager: bool,
}

/// A Business Manager (Meta) or manager account (Google) above ad accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountParent {
    pub id: String,
    pub name: String,
}

/// Whether the platform lets the account's ads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Disabled,
    Unsettled,
    PendingReview,
    GracePeriod,
    PendingClosure,
    Closed,
    Unknown,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Unsettled => "unsettled",
            AccountStatus::PendingReview => "pending_review",
            AccountStatus::GracePeriod => "grace_period",
            AccountStatus::PendingClosure => "pending_closure",
            AccountStatus::Closed => "closed",
            AccountStatus::Unknown => "unknown",
        }
    }

    /// A status the tenant must hear about (its ads are or soon will be stopped).
    pub fn needs_attention(self) -> bool {
        !matches!(self, AccountStatus::Active | AccountStatus::Unknown)
    }

    fn from_meta(code: i64) -> AccountStatus {
        match code {
            1 | 201 => AccountStatus::Active,
            2 => AccountStatus::Disabled,
            3 | 8 => AccountStatus::Unsettled,
            7 => AccountStatus::PendingReview,
            9 => AccountStatus::GracePeriod,
            100 => AccountStatus::PendingClosure,
            101 | 202 => AccountStatus::Closed,
            _ => AccountStatus::Unknown,
        }
    }

    fn from_google(status: &str) -> AccountStatus {
        match status {
            "ENABLED" => AccountStatus::Active,
            "SUSPENDED" => AccountStatus::Disabled,
            "CANCELED" | "CLOSED" => AccountStatus::Closed,
            _ => AccountStatus::Unknown,
        }
    }
}

/// Meta's `disable_reason` codes, for the status detail.
fn meta_disable_reason(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "ads integrity policy",
        2 => "ads IP review",
        3 => "payment risk",
        4 => "gray account shut down",
        5 => "ads AFC review",
        6 => "business integrity",
        7 => "permanently closed",
        8 => "unused reseller account",
        9 => "unused account",
        _ => return None,
    })
}

fn get(url: String) -> OutboundRequest {
    OutboundRequest {
        method: Method::Get,
        url,
        headers: Vec::new(),
        body: None,
    }
}

pub fn plan_meta_account(cfg: &AdsConfig, token: &str, account_id: &str) -> OutboundRequest {
    let url = format!(
        "{}?fields={}",
        cfg.meta_url(&ad_account_node(account_id)),
        META_ACCOUNT_FIELDS
    );
    bearer(get(url), token)
}

pub fn plan_meta_accounts(cfg: &AdsConfig, token: &str) -> OutboundRequest {
    let url = format!(
        "{}?fields={}&limit=100",
        cfg.meta_url("me/adaccounts"),
        META_ACCOUNT_FIELDS
    );
    bearer(get(url), token)
}

fn meta_info(row: &Value) -> Option<AdAccountInfo> {
    let int = |k: &str| match row.get(k) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let (status, status_detail) = match int("account_status") {
        Some(code) => {
            let mut detail = format!("account_status {code}");
            if let Some(reason) = int("disable_reason").filter(|r| *r != 0) {
                detail.push_str(&format!(", disable_reason {reason}"));
                if let Some(text) = meta_disable_reason(reason) {
                    detail.push_str(&format!(" ({text})"));
                }
            }
            (AccountStatus::from_meta(code), detail)
        }
        None => (AccountStatus::Unknown, "no account_status".into()),
    };
    let id = row
        .get("account_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            row.get("id")
                .and_then(Value::as_str)
                .map(|s| s.trim_start_matches("act_").to_string())
        })?;
    Some(AdAccountInfo {
        name: row
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_string(),
        currency: row
            .get("currency")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        account_id: id,
        status,
        status_detail,
        parent: row.get("business").and_then(|b| {
            let id = b.get("id").and_then(Value::as_str)?;
            Some(AccountParent {
                id: id.to_string(),
                name: b
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(id)
                    .to_string(),
            })
        }),
        manager: false,
    })
}

pub fn read_meta_account(r: &InboundResponse) -> Result<AdAccountInfo, ApiFailure> {
    meta_info(&read_meta_response(r)?).ok_or_else(|| ApiFailure::Permanent {
        reason: "Meta answered an ad account without id".into(),
    })
}

pub fn read_meta_accounts(r: &InboundResponse) -> Result<Vec<AdAccountInfo>, ApiFailure> {
    let body = read_meta_response(r)?;
    Ok(body
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(meta_info)
        .collect())
}

pub fn plan_google_accessible_customers(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
) -> OutboundRequest {
    bearer(
        get(cfg.google_ads_url("customers:listAccessibleCustomers"))
            .with_header("developer-token", creds.developer_token.clone()),
        &creds.access_token,
    )
}

/// Customer ids (10 digits) from `listAccessibleCustomers`.
pub fn read_google_accessible_customers(r: &InboundResponse) -> Result<Vec<String>, ApiFailure> {
    let body = read_google_response(r)?;
    Ok(body
        .get("resourceNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|n| n.strip_prefix("customers/"))
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect())
}

pub fn plan_google_customer(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    customer_id: &str,
) -> OutboundRequest {
    let path = format!("{}/googleAds:searchStream", customer_path(customer_id));
    google_post(cfg, creds, &path, &json!({ "query": CUSTOMER_QUERY }))
}

/// The rows of a searchStream answer, across its batches.
pub(super) fn stream_rows(body: &Value) -> impl Iterator<Item = &Value> {
    body.as_array().into_iter().flatten().flat_map(|batch| {
        batch
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    })
}

/// A `customer` or `customer_client` object of a GAQL row.
fn google_info(c: &Value, id: &str) -> AdAccountInfo {
    let status = c.get("status").and_then(Value::as_str);
    AdAccountInfo {
        account_id: id.to_string(),
        name: c
            .get("descriptiveName")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string(),
        currency: c
            .get("currencyCode")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        status: status.map_or(AccountStatus::Unknown, AccountStatus::from_google),
        status_detail: format!("customer.status {}", status.unwrap_or("not given")),
        parent: None,
        manager: c.get("manager").and_then(Value::as_bool).unwrap_or(false),
    }
}

pub fn read_google_customer(
    r: &InboundResponse,
    customer_id: &str,
) -> Result<AdAccountInfo, ApiFailure> {
    let body = read_google_response(r)?;
    let customer = stream_rows(&body)
        .find_map(|row| row.get("customer"))
        .ok_or_else(|| ApiFailure::Permanent {
            reason: format!("Google Ads returned no customer row for {customer_id}"),
        })?;
    Ok(google_info(customer, customer_id))
}

/// The accounts a manager account manages directly (`creds` must carry the manager as
/// `login_customer_id`).
pub fn plan_google_customer_clients(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    manager_id: &str,
) -> OutboundRequest {
    let path = format!("{}/googleAds:searchStream", customer_path(manager_id));
    google_post(
        cfg,
        creds,
        &path,
        &json!({ "query": CUSTOMER_CLIENTS_QUERY }),
    )
}

pub fn read_google_customer_clients(
    r: &InboundResponse,
    manager: &AdAccountInfo,
) -> Result<Vec<AdAccountInfo>, ApiFailure> {
    let body = read_google_response(r)?;
    Ok(stream_rows(&body)
        .filter_map(|row| row.get("customerClient"))
        .filter_map(|c| {
            let id = match c.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            let mut info = google_info(c, &id);
            info.parent = Some(AccountParent {
                id: manager.account_id.clone(),
                name: manager.name.clone(),
            });
            Some(info)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: Value) -> InboundResponse {
        InboundResponse {
            status: 200,
            retry_after: None,
            body: body.to_string(),
        }
    }

    fn creds() -> GoogleAdsCredentials {
        GoogleAdsCredentials {
            developer_token: "dev".into(),
            login_customer_id: Some("111-222-3333".into()),
            access_token: "ya29.x".into(),
        }
    }

    #[test]
    fn meta_account_requests_and_answers() {
        let cfg = AdsConfig::default();
        let one = plan_meta_account(&cfg, "EAAtok", "act_123");
        assert_eq!(one.method, Method::Get);
        assert_eq!(
            one.url,
            "https://graph.facebook.com/v24.0/act_123?fields=account_id,name,currency,account_status,disable_reason,business{id,name}"
        );
        assert!(one
            .headers
            .contains(&("authorization".into(), "Bearer EAAtok".into())));
        assert!(!one.url.contains("EAAtok"));
        let all = plan_meta_accounts(&cfg, "EAAtok");
        assert!(all.url.contains("/v24.0/me/adaccounts?fields="));

        let info = read_meta_account(&ok(
            json!({"id": "act_123", "account_id": "123", "name": "Shop", "currency": "EUR", "account_status": 1, "disable_reason": 0}),
        ))
        .unwrap();
        assert_eq!(
            info,
            AdAccountInfo {
                account_id: "123".into(),
                name: "Shop".into(),
                currency: Some("EUR".into()),
                status: AccountStatus::Active,
                status_detail: "account_status 1".into(),
                parent: None,
                manager: false,
            }
        );
        let list = read_meta_accounts(&ok(json!({"data": [
            {"id": "act_1", "name": "A", "currency": "USD", "account_status": 2, "disable_reason": 1,
             "business": {"id": "555", "name": "Acme Business"}},
            {"account_id": "2"}
        ]})))
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].account_id, "1");
        assert_eq!(
            (list[0].status, list[0].status_detail.as_str()),
            (
                AccountStatus::Disabled,
                "account_status 2, disable_reason 1 (ads integrity policy)"
            )
        );
        assert_eq!(
            list[0].parent,
            Some(AccountParent {
                id: "555".into(),
                name: "Acme Business".into()
            })
        );
        assert_eq!(list[1].name, "2");
        assert_eq!(list[1].parent, None);
        assert_eq!(list[1].currency, None, "no currency named: none guessed");
        assert_eq!(list[1].status, AccountStatus::Unknown);
    }

    #[test]
    fn meta_and_google_statuses() {
        let meta = |code: i64| {
            read_meta_account(&ok(json!({"account_id": "1", "account_status": code})))
                .unwrap()
                .status
        };
        let statuses: Vec<&str> = [1, 2, 3, 7, 8, 9, 100, 101, 201, 202, 55]
            .into_iter()
            .map(|c| meta(c).as_str())
            .collect();
        assert_eq!(
            statuses,
            [
                "active",
                "disabled",
                "unsettled",
                "pending_review",
                "unsettled",
                "grace_period",
                "pending_closure",
                "closed",
                "active",
                "closed",
                "unknown"
            ]
        );
        let google = |status: &str| {
            read_google_customer(
                &ok(json!([{"results": [{"customer": {"id": "1", "status": status}}]}])),
                "1",
            )
            .unwrap()
            .status
        };
        assert_eq!(google("ENABLED"), AccountStatus::Active);
        assert_eq!(google("SUSPENDED"), AccountStatus::Disabled);
        assert_eq!(google("CANCELED"), AccountStatus::Closed);
        assert_eq!(google("CLOSED"), AccountStatus::Closed);
        assert!(AccountStatus::Unsettled.needs_attention());
        assert!(!AccountStatus::Unknown.needs_attention());
    }

    #[test]
    fn google_customer_requests_and_answers() {
        let cfg = AdsConfig::default();
        let list = plan_google_accessible_customers(&cfg, &creds());
        assert_eq!(list.method, Method::Get);
        assert_eq!(
            list.url,
            "https://googleads.googleapis.com/v22/customers:listAccessibleCustomers"
        );
        assert!(list.headers.iter().any(|(k, _)| k == "developer-token"));
        assert!(!list.headers.iter().any(|(k, _)| k == "login-customer-id"));
        let ids = read_google_accessible_customers(&ok(
            json!({"resourceNames": ["customers/1234567890", "customers/x", "customers/9876543210"]}),
        ))
        .unwrap();
        assert_eq!(ids, ["1234567890", "9876543210"]);

        let info = plan_google_customer(&cfg, &creds(), "1234567890");
        assert!(info
            .url
            .ends_with("/v22/customers/1234567890/googleAds:searchStream"));
        assert!(info.body.as_deref().unwrap().contains("FROM customer"));
        let read = read_google_customer(
            &ok(json!([{"results": [{"customer": {"id": "1234567890", "descriptiveName": "Shop GA", "currencyCode": "EUR"}}]}])),
            "1234567890",
        )
        .unwrap();
        assert_eq!(read.currency.as_deref(), Some("EUR"));
        assert!(!read.manager);
        assert_eq!(read.name, "Shop GA");
        assert!(read_google_customer(&ok(json!([])), "1").is_err());
    }

    #[test]
    fn a_manager_account_lists_the_accounts_it_manages() {
        let cfg = AdsConfig::default();
        let manager = read_google_customer(
            &ok(json!([{"results": [{"customer": {"id": "7000000001", "descriptiveName": "Agency MCC", "manager": true, "status": "ENABLED"}}]}])),
            "7000000001",
        )
        .unwrap();
        assert!(manager.manager);
        let under = GoogleAdsCredentials {
            login_customer_id: Some("7000000001".into()),
            ..creds()
        };
        let req = plan_google_customer_clients(&cfg, &under, "7000000001");
        assert!(req
            .url
            .ends_with("/v22/customers/7000000001/googleAds:searchStream"));
        assert!(req
            .headers
            .contains(&("login-customer-id".into(), "7000000001".into())));
        assert!(req
            .body
            .as_deref()
            .unwrap()
            .contains("FROM customer_client WHERE customer_client.level = 1"));
        let clients = read_google_customer_clients(
            &ok(json!([{"results": [
                {"customerClient": {"resourceName": "customers/7000000001/customerClients/7000000011", "id": "7000000011", "descriptiveName": "Shop ES", "currencyCode": "EUR", "status": "ENABLED", "manager": false}},
                {"customerClient": {"id": "7000000012", "descriptiveName": "Shop MX", "currencyCode": "MXN", "status": "SUSPENDED", "manager": false}}
            ]}])),
            &manager,
        )
        .unwrap();
        assert_eq!(clients.len(), 2);
        assert_eq!(
            (
                clients[0].account_id.as_str(),
                clients[0].currency.as_deref(),
                clients[0].status
            ),
            ("7000000011", Some("EUR"), AccountStatus::Active)
        );
        assert_eq!(clients[1].status, AccountStatus::Disabled);
        assert_eq!(
            clients[0].parent,
            Some(AccountParent {
                id: "7000000001".into(),
                name: "Agency MCC".into()
            })
        );
    }
}
