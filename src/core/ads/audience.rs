//! Customer lists: intake with hashing, weekly replace-mode sync to Meta Custom Audiences and
//! Google Ads Customer Match, and Meta lookalikes.
//!
//! Rules followed (Marketing API "Customer File Custom Audiences",
//! "Custom Audience Usersreplace", "Lookalike Audiences"; Google Ads API "Customer Match",
//! `OfflineUserDataJobService`):
//! - intake: each email and phone is normalized with the platform's rules
//!   (`crate::core::normalize`) and SHA-256 hashed (`crate::core::hash`); only hashes are kept,
//!   never the raw values. Meta and Google normalize differently (Google drops the dots of
//!   gmail.com local parts; Meta phones are E.164 digits without `+`, Google's keep it), so a
//!   contact keeps one hash per platform. Rows with neither a usable email nor phone are
//!   rejected with the reason; exact duplicates are dropped and counted;
//! - Meta create: `POST act_{id}/customaudiences` with `subtype=CUSTOM` and
//!   `customer_file_source=USER_PROVIDED_ONLY`;
//! - Meta replace: `POST {graph}/{version}/{audience_id}/usersreplace`, JSON body
//!   `{session:{session_id, batch_seq, last_batch_flag, estimated_num_total}, payload:{schema,
//!   data}}`, at most 10,000 rows per request, `batch_seq` from 1, `last_batch_flag` only on
//!   the last one, one `session_id` (a random int64 from the caller) for the whole replace.
//!   Multi-key rows use the schema `["EMAIL","PHONE"]` with SHA-256 values and `""` for an
//!   unknown key (the usersreplace reference lists `EMAIL_SHA256`/`PHONE_SHA256` for
//!   single-key uploads and `EMAIL`/`PHONE` as the key names of multi-key arrays). An empty
//!   list is not sent (Meta needs at least one row): the caller reports it instead;
//! - Meta lookalike: `POST act_{id}/customaudiences` with `subtype=LOOKALIKE`,
//!   `origin_audience_id` and `lookalike_spec={country, ratio}`, ratio 0.01–0.20;
//! - Google create list: `POST customers/{cid}/userLists:mutate` with a `crmBasedUserList`
//!   (`uploadKeyType=CONTACT_INFO`) and `membershipLifeSpan=10000` (no expiry);
//! - Google replace: `POST customers/{cid}/offlineUserDataJobs:create` (type
//!   `CUSTOMER_MATCH_USER_LIST`, `customerMatchUserListMetadata.userList`, optional EU consent),
//!   then `POST {job}:addOperations` — `removeAll` must be the first operation of the job, then
//!   `create` operations with `userIdentifiers` `hashedEmail` / `hashedPhoneNumber`, at most
//!   100,000 identifiers per request, `enablePartialFailure` so one bad row does not sink the
//!   request (its answer's `partialFailureError` lists the refused operations, counted as upload
//!   errors) — then `POST {job}:run`. The job runs asynchronously at Google (minutes to a day):
//!   its outcome is read back with GAQL through searchStream, `offline_user_data_job.status`
//!   (PENDING, RUNNING, SUCCESS, FAILED), `failure_reason` and
//!   `operation_metadata.match_rate_range` (MATCH_RANGE_LESS_THAN_20 … MATCH_RANGE_91_TO_100),
//!   with the list's `user_list.size_for_search` (an attributed resource of the job), until the
//!   job ends;
//! - Meta audience size: `GET {graph}/{version}/{audience_id}?fields=
//!   approximate_count_lower_bound,approximate_count_upper_bound` (Meta reports ranges only);
//! - member changes (`PUT`/`PATCH …/members`): additions are hashed like an upload; a contact
//!   already in the list (any identifier hash in common) is not added twice; a removal names a
//!   contact by email and/or phone and removes every member sharing one of its hashes;
//!   removals are applied after additions, so a contact both added and removed ends up removed;
//! - tokens travel in the Authorization header, never in URLs or bodies.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::stream_rows;
use super::google_ads::{
    customer_path, post as google_post, read_google_response, GoogleAdsCredentials,
};
use super::meta_insights::{ad_account_node, read_meta_response};
pub use super::settings::CustomerMatchConsent;
use super::{bearer, AdsConfig, ApiFailure};
use crate::core::hash::hash_normalized;
use crate::core::normalize::{
    normalize_email, normalize_email_google, normalize_phone, NormalizeError,
};
use crate::core::outbound::{InboundResponse, OutboundRequest};

pub const META_MAX_ROWS_PER_REQUEST: usize = 10_000;
pub const GOOGLE_MAX_IDENTIFIERS_PER_REQUEST: usize = 100_000;
pub const LOOKALIKE_RATIO_MIN: f64 = 0.01;
pub const LOOKALIKE_RATIO_MAX: f64 = 0.20;

/// One uploaded row, raw. It lives only during intake and never reaches a log.
#[derive(Clone, Default, Deserialize)]
pub struct CustomerRecord {
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for CustomerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerRecord")
            .field("email", &self.email.as_ref().map(|_| "<set>"))
            .field("phone", &self.phone.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What is stored of a customer: hashes only, one per platform's normalization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HashedContact {
    pub email_meta: Option<String>,
    pub email_google: Option<String>,
    pub phone_meta: Option<String>,
    pub phone_google: Option<String>,
}

/// A field of an uploaded row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    pub index: usize,
    pub field: String,
    pub message: String,
    /// The whole row was dropped (no usable identifier left).
    pub rejected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intake {
    pub contacts: Vec<HashedContact>,
    pub issues: Vec<RowIssue>,
    pub duplicates: usize,
}

/// Normalize and hash a field, for both platforms' rules.
fn hash_pair(
    raw: Option<&str>,
    meta: impl Fn(&str) -> Result<String, NormalizeError>,
    google: impl Fn(&str) -> Result<String, NormalizeError>,
) -> Result<Option<(String, String)>, NormalizeError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    Ok(Some((
        hash_normalized(&meta(raw)?).to_string(),
        hash_normalized(&google(raw)?).to_string(),
    )))
}

/// Uploaded rows → hashed, de-duplicated contacts. `default_country` (ISO alpha-2) reads
/// phone numbers written without a country code.
pub fn intake(records: &[CustomerRecord], default_country: Option<&str>) -> Intake {
    let mut out = Intake::default();
    let mut seen = BTreeSet::new();
    let phone_e164 = |raw: &str| normalize_phone(raw, default_country);
    let phone_digits = |raw: &str| phone_e164(raw).map(|p| p.trim_start_matches('+').to_string());
    for (index, record) in records.iter().enumerate() {
        let mut issues = Vec::new();
        let mut field = |name: &str, result: Result<Option<(String, String)>, NormalizeError>| {
            result.unwrap_or_else(|e| {
                issues.push((name.to_string(), e.to_string()));
                None
            })
        };
        let email = field(
            "email",
            hash_pair(
                record.email.as_deref(),
                normalize_email,
                normalize_email_google,
            ),
        );
        let phone = field(
            "phone",
            hash_pair(record.phone.as_deref(), phone_digits, phone_e164),
        );
        let rejected = email.is_none() && phone.is_none();
        if rejected && issues.is_empty() {
            issues.push(("email".into(), "a row needs an email or a phone".into()));
        }
        out.issues
            .extend(issues.into_iter().map(|(field, message)| RowIssue {
                index,
                field,
                message,
                rejected,
            }));
        if rejected {
            continue;
        }
        let (email_meta, email_google) = email.unzip();
        let (phone_meta, phone_google) = phone.unzip();
        let contact = HashedContact {
            email_meta,
            email_google,
            phone_meta,
            phone_google,
        };
        if seen.insert(contact.clone()) {
            out.contacts.push(contact);
        } else {
            out.duplicates += 1;
        }
    }
    out
}

impl HashedContact {
    /// Every identifier hash the contact has (both platforms' normalizations).
    pub fn hashes(&self) -> impl Iterator<Item = &str> {
        [
            &self.email_meta,
            &self.email_google,
            &self.phone_meta,
            &self.phone_google,
        ]
        .into_iter()
        .filter_map(|h| h.as_deref())
    }

    /// The same person: at least one identifier hash in common.
    pub fn matches(&self, other: &HashedContact) -> bool {
        self.hashes().any(|h| other.hashes().any(|o| o == h))
    }
}

/// A `PATCH …/members` body, hashed: who to add and who to remove.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberChanges {
    pub add: Intake,
    pub remove: Intake,
}

impl MemberChanges {
    /// Additions that are not also removed (removals win).
    pub fn effective_additions(&self) -> Vec<HashedContact> {
        self.add
            .contacts
            .iter()
            .filter(|c| !self.remove.contacts.iter().any(|r| r.matches(c)))
            .cloned()
            .collect()
    }
}

/// Hashes the rows of a `PATCH`: `add` and `remove`, each a list of `{email?, phone?}`.
pub fn member_changes(
    add: &[CustomerRecord],
    remove: &[CustomerRecord],
    default_country: Option<&str>,
) -> MemberChanges {
    MemberChanges {
        add: intake(add, default_country),
        remove: intake(remove, default_country),
    }
}

fn meta_post(cfg: &AdsConfig, token: &str, path: &str, body: &Value) -> OutboundRequest {
    bearer(
        OutboundRequest::post_json(cfg.meta_url(path), body.to_string()),
        token,
    )
}

/// A customer-list Custom Audience to replace into.
pub fn plan_meta_custom_audience(
    cfg: &AdsConfig,
    token: &str,
    ad_account_id: &str,
    name: &str,
) -> OutboundRequest {
    let body = json!({
        "name": name,
        "subtype": "CUSTOM",
        "description": "Customer list synced by pixelgate",
        "customer_file_source": "USER_PROVIDED_ONLY",
    });
    meta_post(
        cfg,
        token,
        &format!("{}/customaudiences", ad_account_node(ad_account_id)),
        &body,
    )
}

/// The replace session: one request per ≤ 10,000 contacts, in order.
pub fn plan_meta_users_replace(
    cfg: &AdsConfig,
    token: &str,
    audience_id: &str,
    contacts: &[HashedContact],
    session_id: u64,
) -> Vec<OutboundRequest> {
    let batches: Vec<&[HashedContact]> = contacts.chunks(META_MAX_ROWS_PER_REQUEST).collect();
    let last = batches.len();
    batches
        .into_iter()
        .enumerate()
        .map(|(i, batch)| {
            let data: Vec<Value> = batch
                .iter()
                .map(|c| {
                    json!([
                        c.email_meta.as_deref().unwrap_or(""),
                        c.phone_meta.as_deref().unwrap_or("")
                    ])
                })
                .collect();
            let body = json!({
                "session": {
                    "session_id": session_id,
                    "batch_seq": i + 1,
                    "last_batch_flag": i + 1 == last,
                    "estimated_num_total": contacts.len(),
                },
                "payload": {"schema": ["EMAIL", "PHONE"], "data": data},
            });
            meta_post(cfg, token, &format!("{audience_id}/usersreplace"), &body)
        })
        .collect()
}

/// Meta's answer to one usersreplace batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaBatchResult {
    pub num_received: u64,
    pub num_invalid_entries: u64,
}

pub fn read_meta_batch(r: &InboundResponse) -> Result<MetaBatchResult, ApiFailure> {
    let body = read_meta_response(r)?;
    let field = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0);
    Ok(MetaBatchResult {
        num_received: field("num_received"),
        num_invalid_entries: field("num_invalid_entries"),
    })
}

/// The `id` of a created audience (custom or lookalike).
pub fn read_created_meta_audience(r: &InboundResponse) -> Result<String, ApiFailure> {
    let body = read_meta_response(r)?;
    body.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiFailure::Permanent {
            reason: "Meta created no audience id".into(),
        })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookalikeRequest {
    pub name: String,
    pub origin_audience_id: String,
    /// ISO 3166 alpha-2, e.g. "ES".
    pub country: String,
    /// Top share of the country's population most like the source, 0.01–0.20.
    pub ratio: f64,
}

pub fn plan_meta_lookalike(
    cfg: &AdsConfig,
    token: &str,
    ad_account_id: &str,
    spec: &LookalikeRequest,
) -> Result<OutboundRequest, String> {
    if !(LOOKALIKE_RATIO_MIN..=LOOKALIKE_RATIO_MAX).contains(&spec.ratio) {
        return Err("lookalike ratio must be between 0.01 and 0.20".into());
    }
    let country = spec.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("lookalike country must be a two-letter ISO 3166-1 code such as US".into());
    }
    let body = json!({
        "name": spec.name,
        "subtype": "LOOKALIKE",
        "origin_audience_id": spec.origin_audience_id,
        "lookalike_spec": {"country": country, "ratio": spec.ratio},
    });
    Ok(meta_post(
        cfg,
        token,
        &format!("{}/customaudiences", ad_account_node(ad_account_id)),
        &body,
    ))
}

fn consent_status(granted: bool) -> &'static str {
    if granted {
        "GRANTED"
    } else {
        "DENIED"
    }
}

/// A Customer Match user list, when the audience has none yet.
pub fn plan_google_user_list(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    customer_id: &str,
    name: &str,
) -> OutboundRequest {
    let body = json!({"operations": [{"create": {
        "name": name,
        "description": "Customer list synced by pixelgate",
        "membershipLifeSpan": 10000,
        "crmBasedUserList": {"uploadKeyType": "CONTACT_INFO"},
    }}]});
    google_post(
        cfg,
        creds,
        &format!("{}/userLists:mutate", customer_path(customer_id)),
        &body,
    )
}

pub fn plan_customer_match_job(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    customer_id: &str,
    user_list_id: &str,
    consent: Option<CustomerMatchConsent>,
) -> OutboundRequest {
    let customer = customer_path(customer_id);
    let mut metadata = json!({"userList": format!("{customer}/userLists/{user_list_id}")});
    if let Some(c) = consent {
        metadata["consent"] = json!({
            "adUserData": consent_status(c.ad_user_data),
            "adPersonalization": consent_status(c.ad_personalization),
        });
    }
    let body = json!({"job": {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": metadata}});
    google_post(
        cfg,
        creds,
        &format!("{customer}/offlineUserDataJobs:create"),
        &body,
    )
}

/// `customers/{digits}/{collection}/{digits}`: the only resource names we put in a path.
fn is_resource_name(name: &str, collection: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 4
        && parts[0] == "customers"
        && digits(parts[1])
        && parts[2] == collection
        && digits(parts[3])
}

fn resource_name(body: &Value, pointer: &str, collection: &str) -> Result<String, ApiFailure> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|n| is_resource_name(n, collection))
        .map(str::to_string)
        .ok_or_else(|| ApiFailure::Permanent {
            reason: format!("Google Ads answer has no {collection} resource name"),
        })
}

/// `customers/{cid}/userLists/{id}` of a created list.
pub fn read_created_user_list(r: &InboundResponse) -> Result<String, ApiFailure> {
    resource_name(
        &read_google_response(r)?,
        "/results/0/resourceName",
        "userLists",
    )
}

/// `customers/{cid}/offlineUserDataJobs/{id}` of a created job.
pub fn read_created_job(r: &InboundResponse) -> Result<String, ApiFailure> {
    resource_name(
        &read_google_response(r)?,
        "/resourceName",
        "offlineUserDataJobs",
    )
}

fn google_identifiers(c: &HashedContact) -> Vec<Value> {
    let mut ids = Vec::new();
    if let Some(email) = &c.email_google {
        ids.push(json!({"hashedEmail": email}));
    }
    if let Some(phone) = &c.phone_google {
        ids.push(json!({"hashedPhoneNumber": phone}));
    }
    ids
}

/// Replace: `removeAll` first, then the contacts, ≤ 100,000 identifiers per request.
pub fn plan_customer_match_operations(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    job_resource_name: &str,
    contacts: &[HashedContact],
) -> Result<Vec<OutboundRequest>, String> {
    if !is_resource_name(job_resource_name, "offlineUserDataJobs") {
        return Err(format!("not an offline user data job: {job_resource_name}"));
    }
    let path = format!("{job_resource_name}:addOperations");
    let request = |operations: Vec<Value>| {
        google_post(
            cfg,
            creds,
            &path,
            &json!({"operations": operations, "enablePartialFailure": true}),
        )
    };
    let mut requests = Vec::new();
    let mut operations = vec![json!({"removeAll": true})];
    let mut identifiers = 0;
    for contact in contacts {
        let ids = google_identifiers(contact);
        if ids.is_empty() {
            continue;
        }
        if identifiers + ids.len() > GOOGLE_MAX_IDENTIFIERS_PER_REQUEST {
            requests.push(request(std::mem::take(&mut operations)));
            identifiers = 0;
        }
        identifiers += ids.len();
        operations.push(json!({"create": {"userIdentifiers": ids}}));
    }
    requests.push(request(operations));
    Ok(requests)
}

pub fn plan_customer_match_run(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    job_resource_name: &str,
) -> Result<OutboundRequest, String> {
    if !is_resource_name(job_resource_name, "offlineUserDataJobs") {
        return Err(format!("not an offline user data job: {job_resource_name}"));
    }
    Ok(google_post(
        cfg,
        creds,
        &format!("{job_resource_name}:run"),
        &json!({}),
    ))
}

/// The `sync_status` of an audience after a sync attempt: synced on success; a failure that will
/// be retried leaves it pending; one that needs the tenant (token, permissions, bad list) is an
/// error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudienceSyncStatus {
    Synced,
    Pending,
    Error,
}

impl AudienceSyncStatus {
    pub fn after(outcome: Result<(), &ApiFailure>) -> AudienceSyncStatus {
        match outcome {
            Ok(()) => AudienceSyncStatus::Synced,
            Err(ApiFailure::RateLimited { .. } | ApiFailure::Retryable { .. }) => {
                AudienceSyncStatus::Pending
            }
            Err(ApiFailure::AuthInvalid { .. } | ApiFailure::Permanent { .. }) => {
                AudienceSyncStatus::Error
            }
        }
    }
}

/// Any Customer Match answer whose body we do not need (run).
pub fn read_google_step(r: &InboundResponse) -> Result<(), ApiFailure> {
    read_google_response(r).map(|_| ())
}

/// An `addOperations` answer: how many operations Google refused (partial failure).
pub fn read_add_operations(r: &InboundResponse) -> Result<u64, ApiFailure> {
    let body = read_google_response(r)?;
    let Some(partial) = body.get("partialFailureError").filter(|p| !p.is_null()) else {
        return Ok(0);
    };
    let listed: usize = partial
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("errors").and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    // A partial failure always refused at least one operation, even if it lists none.
    Ok(listed.max(1) as u64)
}

/// The GAQL query of a Customer Match job's outcome and its list's size.
pub fn customer_match_status_query(job_resource_name: &str) -> Result<String, String> {
    if !is_resource_name(job_resource_name, "offlineUserDataJobs") {
        return Err(format!("not an offline user data job: {job_resource_name}"));
    }
    Ok(format!(
        "SELECT offline_user_data_job.resource_name, offline_user_data_job.status, \
         offline_user_data_job.failure_reason, \
         offline_user_data_job.operation_metadata.match_rate_range, user_list.size_for_search, \
         user_list.size_for_display FROM offline_user_data_job \
         WHERE offline_user_data_job.resource_name = '{job_resource_name}'"
    ))
}

pub fn plan_customer_match_status(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    customer_id: &str,
    job_resource_name: &str,
) -> Result<OutboundRequest, String> {
    let query = customer_match_status_query(job_resource_name)?;
    Ok(google_post(
        cfg,
        creds,
        &format!("{}/googleAds:searchStream", customer_path(customer_id)),
        &json!({ "query": query }),
    ))
}

/// Where a Customer Match job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Success,
    Failed,
}

impl JobState {
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Success | JobState::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Success => "success",
            JobState::Failed => "failed",
        }
    }
}

/// A Customer Match job's outcome as polled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub state: JobState,
    pub failure_reason: Option<String>,
    /// "20-30 %", "less than 20 %", "91-100 %": Google gives a range, never a number.
    pub match_rate: Option<String>,
    pub list_size: Option<u64>,
}

/// `MATCH_RANGE_20_TO_30` → "20-30 %".
fn match_rate_label(range: &str) -> Option<String> {
    let rest = range.strip_prefix("MATCH_RANGE_")?;
    if rest == "LESS_THAN_20" {
        return Some("less than 20 %".into());
    }
    let (low, high) = rest.split_once("_TO_")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(low) && digits(high)).then(|| format!("{low}-{high} %"))
}

pub fn read_customer_match_status(r: &InboundResponse) -> Result<JobOutcome, ApiFailure> {
    let body = read_google_response(r)?;
    let row = stream_rows(&body)
        .next()
        .ok_or_else(|| ApiFailure::Permanent {
            reason: "Google Ads knows no such Customer Match job".into(),
        })?;
    let job = row.get("offlineUserDataJob").unwrap_or(&Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let state = match job.get("status").and_then(Value::as_str) {
        Some("SUCCESS") => JobState::Success,
        Some("FAILED") => JobState::Failed,
        Some("RUNNING") => JobState::Running,
        _ => JobState::Pending,
    };
    let size = |k: &str| {
        row.pointer(&format!("/userList/{k}"))
            .and_then(|v| match v {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
    };
    Ok(JobOutcome {
        state,
        failure_reason: text(job.get("failureReason"))
            .filter(|f| !matches!(f.as_str(), "UNSPECIFIED" | "UNKNOWN")),
        match_rate: job
            .pointer("/operationMetadata/matchRateRange")
            .and_then(Value::as_str)
            .and_then(match_rate_label),
        list_size: size("sizeForSearch").or_else(|| size("sizeForDisplay")),
    })
}

/// A Meta custom audience's size estimate.
pub fn plan_meta_audience_size(cfg: &AdsConfig, token: &str, audience_id: &str) -> OutboundRequest {
    let url = format!(
        "{}?fields=approximate_count_lower_bound,approximate_count_upper_bound",
        cfg.meta_url(audience_id)
    );
    bearer(
        OutboundRequest {
            method: crate::core::outbound::Method::Get,
            url,
            headers: Vec::new(),
            body: None,
        },
        token,
    )
}

/// The lower and upper bounds of Meta's estimate (−1 when Meta has none yet: None).
pub fn read_meta_audience_size(
    r: &InboundResponse,
) -> Result<(Option<u64>, Option<u64>), ApiFailure> {
    let body = read_meta_response(r)?;
    let bound = |k: &str| {
        body.get(k)
            .and_then(Value::as_i64)
            .filter(|n| *n >= 0)
            .map(|n| n as u64)
    };
    Ok((
        bound("approximate_count_lower_bound"),
        bound("approximate_count_upper_bound"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::outbound::Method;

    fn record(email: Option<&str>, phone: Option<&str>) -> CustomerRecord {
        CustomerRecord {
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
        }
    }

    fn body(r: &OutboundRequest) -> Value {
        serde_json::from_str(r.body.as_ref().unwrap()).unwrap()
    }

    fn creds() -> GoogleAdsCredentials {
        GoogleAdsCredentials {
            developer_token: "devtok".into(),
            login_customer_id: None,
            access_token: "ya29.x".into(),
        }
    }

    fn contact(i: usize, with_phone: bool) -> HashedContact {
        HashedContact {
            email_meta: Some(sha256_hex(&format!("user{i}@example.com"))),
            email_google: Some(sha256_hex(&format!("user{i}@example.com"))),
            phone_meta: with_phone.then(|| sha256_hex(&format!("3461234{i:04}"))),
            phone_google: with_phone.then(|| sha256_hex(&format!("+3461234{i:04}"))),
        }
    }

    const JOB: &str = "customers/9876543210/offlineUserDataJobs/555000111";

    #[test]
    fn intake_hashes_per_platform_and_keeps_no_raw_value() {
        let rows = [
            record(Some(" Ana.Lopez@Gmail.com "), Some("612 34 56 78")),
            record(None, Some("+1 (415) 555-2671")),
            record(Some("ana.lopez@gmail.com"), Some("+34 612 345 678")), // duplicate of row 0
            record(Some("not-an-email"), None),
            record(Some("pepe@example.es"), Some("12")), // bad phone, good email
            record(None, None),
        ];
        let intake = intake(&rows, Some("ES"));
        assert_eq!(intake.contacts.len(), 3);
        assert_eq!(intake.duplicates, 1);
        assert_eq!(
            intake.contacts[0],
            HashedContact {
                email_meta: Some(sha256_hex("ana.lopez@gmail.com")),
                email_google: Some(sha256_hex("analopez@gmail.com")),
                phone_meta: Some(sha256_hex("34612345678")),
                phone_google: Some(sha256_hex("+34612345678")),
            }
        );
        assert_eq!(
            intake.contacts[1].phone_google,
            Some(sha256_hex("+14155552671"))
        );
        assert_eq!(intake.contacts[1].email_meta, None);
        assert_eq!(intake.contacts[2].phone_meta, None);

        let issues: Vec<(usize, &str, bool)> = intake
            .issues
            .iter()
            .map(|i| (i.index, i.field.as_str(), i.rejected))
            .collect();
        assert_eq!(
            issues,
            [(3, "email", true), (4, "phone", false), (5, "email", true)]
        );
        assert_eq!(intake.issues[2].message, "a row needs an email or a phone");

        let stored = serde_json::to_string(&intake).unwrap();
        for raw in ["Lopez", "lopez@", "612", "4155552671", "pepe"] {
            assert!(!stored.contains(raw), "{raw} leaked into {stored}");
        }
        assert!(!format!("{:?}", rows[0]).contains("Gmail"));
    }

    #[test]
    fn already_hashed_values_are_not_hashed_twice() {
        let hashed = sha256_hex("ana@example.com");
        let intake = intake(&[record(Some(&hashed.to_uppercase()), None)], None);
        assert_eq!(
            intake.contacts[0].email_meta.as_deref(),
            Some(hashed.as_str())
        );
        assert_eq!(
            intake.contacts[0].email_google.as_deref(),
            Some(hashed.as_str())
        );
    }

    #[test]
    fn meta_replace_sends_sessions_of_at_most_10000_rows() {
        let contacts: Vec<HashedContact> = (0..25_000).map(|i| contact(i, i % 2 == 0)).collect();
        let requests = plan_meta_users_replace(
            &AdsConfig::default(),
            "EAAlong",
            "23842971650123",
            &contacts,
            7_001_234_567,
        );
        assert_eq!(requests.len(), 3);
        let sizes: Vec<usize> = requests
            .iter()
            .map(|r| body(r)["payload"]["data"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [10_000, 10_000, 5_000]);
        for (i, r) in requests.iter().enumerate() {
            assert_eq!(r.method, Method::Post);
            assert_eq!(
                r.url,
                "https://graph.facebook.com/v24.0/23842971650123/usersreplace"
            );
            assert!(r
                .headers
                .contains(&("authorization".into(), "Bearer EAAlong".into())));
            assert!(!r.body.as_ref().unwrap().contains("EAAlong"));
            let session = &body(r)["session"];
            assert_eq!(
                *session,
                json!({"session_id": 7_001_234_567u64, "batch_seq": i + 1, "last_batch_flag": i == 2, "estimated_num_total": 25_000})
            );
        }
        let first = body(&requests[0]);
        assert_eq!(first["payload"]["schema"], json!(["EMAIL", "PHONE"]));
        assert_eq!(
            first["payload"]["data"][0],
            json!([contacts[0].email_meta, contacts[0].phone_meta])
        );
        assert_eq!(
            first["payload"]["data"][1],
            json!([contacts[1].email_meta, ""])
        );
        // Exactly 10,000: one request, flagged last.
        let exact =
            plan_meta_users_replace(&AdsConfig::default(), "t", "1", &contacts[..10_000], 1);
        assert_eq!(exact.len(), 1);
        assert_eq!(body(&exact[0])["session"]["last_batch_flag"], true);
        assert!(plan_meta_users_replace(&AdsConfig::default(), "t", "1", &[], 1).is_empty());
    }

    #[test]
    fn meta_batch_and_creation_answers() {
        let ok = |b: Value| InboundResponse {
            status: 200,
            retry_after: None,
            body: b.to_string(),
        };
        let result = read_meta_batch(&ok(json!({"audience_id": "23842971650123", "session_id": "7001234567", "num_received": 10000, "num_invalid_entries": 12, "invalid_entry_samples": {}}))).unwrap();
        assert_eq!(
            result,
            MetaBatchResult {
                num_received: 10_000,
                num_invalid_entries: 12
            }
        );
        assert_eq!(
            read_created_meta_audience(&ok(json!({"id": "23842971650456"}))).unwrap(),
            "23842971650456"
        );
        let throttled = InboundResponse {
            status: 400,
            retry_after: None,
            body: json!({"error": {"code": 80003, "message": "too many calls"}}).to_string(),
        };
        assert!(matches!(
            read_meta_batch(&throttled),
            Err(ApiFailure::RateLimited { .. })
        ));
    }

    #[test]
    fn meta_custom_and_lookalike_audiences() {
        let create = plan_meta_custom_audience(
            &AdsConfig::default(),
            "EAA",
            "1234567890",
            "High-Value Leads Q1",
        );
        assert_eq!(
            create.url,
            "https://graph.facebook.com/v24.0/act_1234567890/customaudiences"
        );
        assert_eq!(body(&create)["customer_file_source"], "USER_PROVIDED_ONLY");
        assert_eq!(body(&create)["subtype"], "CUSTOM");

        let spec = LookalikeRequest {
            name: "LAL 1% ES - High-Value Leads".into(),
            origin_audience_id: "23842971650123".into(),
            country: "es".into(),
            ratio: 0.01,
        };
        let req =
            plan_meta_lookalike(&AdsConfig::default(), "EAA", "act_1234567890", &spec).unwrap();
        assert_eq!(
            req.url,
            "https://graph.facebook.com/v24.0/act_1234567890/customaudiences"
        );
        assert_eq!(
            body(&req),
            json!({"name": "LAL 1% ES - High-Value Leads", "subtype": "LOOKALIKE", "origin_audience_id": "23842971650123",
                   "lookalike_spec": {"country": "ES", "ratio": 0.01}})
        );
        let too_wide = LookalikeRequest {
            ratio: 0.25,
            ..spec.clone()
        };
        assert!(plan_meta_lookalike(&AdsConfig::default(), "EAA", "1", &too_wide).is_err());
        let bad_country = LookalikeRequest {
            country: "Spain".into(),
            ..spec
        };
        assert!(plan_meta_lookalike(&AdsConfig::default(), "EAA", "1", &bad_country).is_err());
    }

    #[test]
    fn google_customer_match_job_lifecycle() {
        let cfg = AdsConfig::default();
        let list = plan_google_user_list(&cfg, &creds(), "987-654-3210", "High-Value Leads Q1");
        assert_eq!(
            list.url,
            "https://googleads.googleapis.com/v22/customers/9876543210/userLists:mutate"
        );
        assert_eq!(
            body(&list)["operations"][0]["create"]["crmBasedUserList"]["uploadKeyType"],
            "CONTACT_INFO"
        );

        let create = plan_customer_match_job(
            &cfg,
            &creds(),
            "9876543210",
            "4411",
            Some(CustomerMatchConsent {
                ad_user_data: true,
                ad_personalization: false,
            }),
        );
        assert_eq!(
            create.url,
            "https://googleads.googleapis.com/v22/customers/9876543210/offlineUserDataJobs:create"
        );
        assert!(create
            .headers
            .contains(&("developer-token".into(), "devtok".into())));
        assert_eq!(
            body(&create),
            json!({"job": {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": {
                "userList": "customers/9876543210/userLists/4411",
                "consent": {"adUserData": "GRANTED", "adPersonalization": "DENIED"}}}})
        );
        let ok = |b: Value| InboundResponse {
            status: 200,
            retry_after: None,
            body: b.to_string(),
        };
        assert_eq!(
            read_created_job(&ok(json!({"resourceName": JOB}))).unwrap(),
            JOB
        );
        assert!(read_created_job(&ok(json!({"resourceName": "customers/1/../../x"}))).is_err());
        assert_eq!(
            read_created_user_list(&ok(
                json!({"results": [{"resourceName": "customers/9876543210/userLists/4411"}]})
            ))
            .unwrap(),
            "customers/9876543210/userLists/4411"
        );

        let run = plan_customer_match_run(&cfg, &creds(), JOB).unwrap();
        assert_eq!(
            run.url,
            format!("https://googleads.googleapis.com/v22/{JOB}:run")
        );
        assert!(plan_customer_match_run(&cfg, &creds(), "customers/1/campaigns/2").is_err());
        let quota = InboundResponse {
            status: 429,
            retry_after: Some("60".into()),
            body: String::new(),
        };
        assert!(matches!(
            read_google_step(&quota),
            Err(ApiFailure::RateLimited {
                retry_after_secs: Some(60),
                ..
            })
        ));
    }

    #[test]
    fn audience_status_after_a_sync() {
        assert_eq!(
            AudienceSyncStatus::after(Ok(())),
            AudienceSyncStatus::Synced
        );
        let later = ApiFailure::Retryable {
            reason: "HTTP 503".into(),
        };
        assert_eq!(
            AudienceSyncStatus::after(Err(&later)),
            AudienceSyncStatus::Pending
        );
        let revoked = ApiFailure::AuthInvalid {
            reason: "Meta error 190".into(),
        };
        assert_eq!(
            AudienceSyncStatus::after(Err(&revoked)),
            AudienceSyncStatus::Error
        );
        assert_eq!(
            serde_json::to_value(AudienceSyncStatus::Synced).unwrap(),
            json!("synced")
        );
    }

    #[test]
    fn google_replace_removes_all_first_and_caps_identifiers_per_request() {
        // 60,000 contacts with email and phone = 120,000 identifiers.
        let contacts: Vec<HashedContact> = (0..60_000).map(|i| contact(i, true)).collect();
        let requests =
            plan_customer_match_operations(&AdsConfig::default(), &creds(), JOB, &contacts)
                .unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].url,
            format!("https://googleads.googleapis.com/v22/{JOB}:addOperations")
        );
        let first = body(&requests[0]);
        let ops = first["operations"].as_array().unwrap();
        assert_eq!(ops[0], json!({"removeAll": true}));
        assert_eq!(first["enablePartialFailure"], true);
        assert_eq!(ops.len(), 1 + 50_000);
        assert_eq!(
            ops[1],
            json!({"create": {"userIdentifiers": [{"hashedEmail": contacts[0].email_google}, {"hashedPhoneNumber": contacts[0].phone_google}]}})
        );
        let second = body(&requests[1]);
        let ops2 = second["operations"].as_array().unwrap();
        assert_eq!(ops2.len(), 10_000);
        assert!(
            ops2.iter().all(|op| op.get("removeAll").is_none()),
            "removeAll only opens the job"
        );
        // An empty list still clears the audience.
        let clear =
            plan_customer_match_operations(&AdsConfig::default(), &creds(), JOB, &[]).unwrap();
        assert_eq!(body(&clear[0])["operations"], json!([{"removeAll": true}]));
        assert!(plan_customer_match_operations(
            &AdsConfig::default(),
            &creds(),
            "customers/1/userLists/2",
            &contacts
        )
        .is_err());
    }

    #[test]
    fn member_changes_match_by_any_identifier_and_removals_win() {
        let changes = member_changes(
            &[
                record(Some("new@example.com"), None),
                record(Some("both@example.com"), Some("+34 600 000 009")),
                record(Some("not an email"), None),
            ],
            &[
                record(None, Some("600000009")),
                record(Some("gone@example.com"), None),
            ],
            Some("ES"),
        );
        assert_eq!(changes.add.contacts.len(), 2);
        assert_eq!(changes.add.issues.len(), 1, "the bad row is reported");
        // The phone removal matches the second addition (the same E.164 number): it is not added.
        let added = changes.effective_additions();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].email_meta, Some(sha256_hex("new@example.com")));
        let gone = &changes.remove.contacts[1];
        let member = HashedContact {
            email_meta: Some(sha256_hex("gone@example.com")),
            email_google: Some(sha256_hex("gone@example.com")),
            phone_meta: Some(sha256_hex("34611111111")),
            phone_google: Some(sha256_hex("+34611111111")),
        };
        assert!(
            gone.matches(&member),
            "an email removes the member that also has a phone"
        );
        assert!(!changes.remove.contacts[0].matches(&member));
        assert_eq!(member.hashes().count(), 4);
    }

    #[test]
    fn customer_match_outcome_is_polled_with_gaql() {
        let req =
            plan_customer_match_status(&AdsConfig::default(), &creds(), "9876543210", JOB).unwrap();
        assert_eq!(
            req.url,
            "https://googleads.googleapis.com/v22/customers/9876543210/googleAds:searchStream"
        );
        let q = body(&req)["query"].as_str().unwrap().to_string();
        assert!(q.contains("offline_user_data_job.operation_metadata.match_rate_range"));
        assert!(q.ends_with(&format!(
            "WHERE offline_user_data_job.resource_name = '{JOB}'"
        )));
        assert!(customer_match_status_query("customers/1/userLists/2' OR 1=1 --").is_err());

        let ok = |b: Value| InboundResponse {
            status: 200,
            retry_after: None,
            body: b.to_string(),
        };
        let done = read_customer_match_status(&ok(json!([{"results": [{
            "offlineUserDataJob": {"resourceName": JOB, "status": "SUCCESS", "failureReason": "UNSPECIFIED",
                                   "operationMetadata": {"matchRateRange": "MATCH_RANGE_41_TO_50"}},
            "userList": {"resourceName": "customers/9876543210/userLists/4411", "sizeForSearch": "12000", "sizeForDisplay": "9000"}
        }]}]))).unwrap();
        assert_eq!(
            done,
            JobOutcome {
                state: JobState::Success,
                failure_reason: None,
                match_rate: Some("41-50 %".into()),
                list_size: Some(12_000)
            }
        );
        assert!(done.state.is_final());
        let running = read_customer_match_status(&ok(
            json!([{"results": [{"offlineUserDataJob": {"status": "RUNNING",
            "operationMetadata": {"matchRateRange": "MATCH_RANGE_LESS_THAN_20"}}}]}]),
        ))
        .unwrap();
        assert_eq!(
            (
                running.state,
                running.match_rate.as_deref(),
                running.list_size
            ),
            (JobState::Running, Some("less than 20 %"), None)
        );
        assert!(!running.state.is_final());
        let failed = read_customer_match_status(&ok(json!([{"results": [{"offlineUserDataJob": {"status": "FAILED", "failureReason": "INSUFFICIENT_MATCHED_TRANSACTIONS"}}]}]))).unwrap();
        assert_eq!(
            (failed.state, failed.failure_reason.as_deref()),
            (JobState::Failed, Some("INSUFFICIENT_MATCHED_TRANSACTIONS"))
        );
        assert!(read_customer_match_status(&ok(json!([{"results": []}]))).is_err());
    }

    #[test]
    fn partial_failures_and_meta_sizes() {
        let ok = |b: Value| InboundResponse {
            status: 200,
            retry_after: None,
            body: b.to_string(),
        };
        assert_eq!(read_add_operations(&ok(json!({}))).unwrap(), 0);
        let partial = json!({"partialFailureError": {"code": 3, "message": "Multiple errors", "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure",
            "errors": [{"errorCode": {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}}, {"errorCode": {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}}]}]}});
        assert_eq!(read_add_operations(&ok(partial)).unwrap(), 2);

        let req = plan_meta_audience_size(&AdsConfig::default(), "EAA", "23842971650123");
        assert_eq!(
            req.url,
            "https://graph.facebook.com/v24.0/23842971650123?fields=approximate_count_lower_bound,approximate_count_upper_bound"
        );
        assert!(!req.url.contains("EAA"));
        assert_eq!(
            read_meta_audience_size(&ok(json!({"approximate_count_lower_bound": 19800, "approximate_count_upper_bound": 23300, "id": "1"}))).unwrap(),
            (Some(19_800), Some(23_300))
        );
        assert_eq!(
            read_meta_audience_size(&ok(
                json!({"approximate_count_lower_bound": -1, "approximate_count_upper_bound": -1})
            ))
            .unwrap(),
            (None, None)
        );
    }
}
