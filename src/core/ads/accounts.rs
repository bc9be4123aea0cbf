//! Which ad accounts an OAuth grant reaches, and their name and currency.
//!
//! Rules followed (Marketing API "Ad Account" reference, Google Ads API
//! `CustomerService.ListAccessibleCustomers` and the `customer` GAQL resource):
//! - Meta: `GET {graph}/{version}/act_{id}?fields=account_id,name,currency,account_status`
//!   for one account, `GET .../me/adaccounts?fields=...&limit=100` for every account the user
//!   can reach (first page only: a tenant connecting more than 100 accounts names the one it
//!   wants with `account_id`);
//! - Google: `GET {base}/{version}/customers:listAccessibleCustomers` (developer token and
//!   bearer token, no login-customer-id) answers `{resourceNames:["customers/123..."]}`; name
//!   and currency come from `SELECT customer.id, customer.descriptive_name,
//!   customer.currency_code FROM customer` through searchStream;
//! - the account currency is the one platforms report money in; it is kept with the account.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::google_ads::{
    customer_path, post as google_post, read_google_response, GoogleAdsCredentials,
};
use super::meta_insights::{ad_account_node, read_meta_response};
use super::{bearer, AdsConfig, ApiFailure};
use crate::core::outbound::{InboundResponse, Method, OutboundRequest};

pub const META_ACCOUNT_FIELDS: &str = "account_id,name,currency,account_status";
pub const CUSTOMER_QUERY: &str =
    "SELECT customer.id, customer.descriptive_name, customer.currency_code FROM customer";

/// An ad account as connected: the platform's id, a display name and its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdAccountInfo {
    pub account_id: String,
    pub name: String,
    pub currency: String,
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
            .unwrap_or("USD")
            .to_string(),
        account_id: id,
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

pub fn read_google_customer(
    r: &InboundResponse,
    customer_id: &str,
) -> Result<AdAccountInfo, ApiFailure> {
    let body = read_google_response(r)?;
    let customer = body
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|batch| {
            batch
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find_map(|row| row.get("customer"))
        .ok_or_else(|| ApiFailure::Permanent {
            reason: format!("Google Ads returned no customer row for {customer_id}"),
        })?;
    Ok(AdAccountInfo {
        account_id: customer_id.to_string(),
        name: customer
            .get("descriptiveName")
            .and_then(Value::as_str)
            .unwrap_or(customer_id)
            .to_string(),
        currency: customer
            .get("currencyCode")
            .and_then(Value::as_str)
            .unwrap_or("USD")
            .to_string(),
    })
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
            "https://graph.facebook.com/v24.0/act_123?fields=account_id,name,currency,account_status"
        );
        assert!(one
            .headers
            .contains(&("authorization".into(), "Bearer EAAtok".into())));
        assert!(!one.url.contains("EAAtok"));
        let all = plan_meta_accounts(&cfg, "EAAtok");
        assert!(all.url.contains("/v24.0/me/adaccounts?fields="));

        let info = read_meta_account(&ok(
            json!({"id": "act_123", "account_id": "123", "name": "Shop", "currency": "EUR"}),
        ))
        .unwrap();
        assert_eq!(
            info,
            AdAccountInfo {
                account_id: "123".into(),
                name: "Shop".into(),
                currency: "EUR".into()
            }
        );
        let list = read_meta_accounts(&ok(json!({"data": [
            {"id": "act_1", "name": "A", "currency": "USD"},
            {"account_id": "2", "currency": "JPY"}
        ]})))
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].account_id, "1");
        assert_eq!(list[1].name, "2");
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
        assert_eq!(read.currency, "EUR");
        assert_eq!(read.name, "Shop GA");
        assert!(read_google_customer(&ok(json!([])), "1").is_err());
    }
}
