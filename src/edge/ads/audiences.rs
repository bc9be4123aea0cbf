//! Audiences: the API (customer lists uploaded and hashed here, their members added, removed or
//! replaced, lookalikes of a synced Meta list) and the replace-mode sync of a customer list to its
//! platform, which the Scheduler runs (Mondays 03:00 UTC, or now), with what the platform made of
//! it: Meta's size estimate; Google's Customer Match job polled until it ends (state, match rate,
//! list size), carrying the tenant's EU consent.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Env, Request};

use super::client::{
    access_token, google_creds, internal_failure, meta_call, open_token, send, timeout_ms, RunError,
};
use super::settings::load_settings;
use super::upstream_error;
use crate::core::ads::audience::{self, AudienceSyncStatus, CustomerRecord, Intake};
use crate::core::ads::meta_insights::CallBudget;
use crate::core::ads::schedule::SchedulerRequest;
use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::{read_json, MAX_AUDIENCE_BYTES, MAX_JSON_BYTES};
use crate::edge::store::ads::{self as store, AccountRow, AudienceRow, NewLookalike};
use crate::edge::{
    bindings, config, json_response, now_secs, random_bytes, uuid_v4, ApiError, ApiResult,
};

// ---------------------------------------------------------------- API

#[derive(Deserialize)]
struct NewAudience {
    name: String,
    ads_account_id: String,
    #[serde(default)]
    members: Vec<CustomerRecord>,
    #[serde(default)]
    default_country: Option<String>,
}

/// `POST /audiences`: a customer list of an ads account, its members hashed here (raw emails and
/// phones are never stored or logged), synced later.
pub(super) async fn create_audience(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_AUDIENCE_BYTES).await?;
    let input: NewAudience = serde_json::from_value(body).map_err(|e| {
        ApiError::field(
            "body",
            &format!("expected {{name, ads_account_id, members:[{{email?, phone?}}]}}: {e}"),
        )
    })?;
    if input.name.trim().is_empty() {
        return Err(ApiError::field("name", "is required"));
    }
    let db = bindings::db(env)?;
    let account = store::account_by_id(&db, &tenant_id, &input.ads_account_id)
        .await?
        .ok_or_else(|| ApiError::field("ads_account_id", "no such ads account"))?;
    let country = country_param(input.default_country.as_deref())?;
    // Raw emails/phones live only in this request: hashed here, never stored or logged.
    let intake = audience::intake(&input.members, country.as_deref());
    drop(input.members);
    let id = uuid_v4();
    store::create_customer_list(
        &db,
        &id,
        &tenant_id,
        &account.id,
        input.name.trim(),
        &intake.contacts,
        now_secs(),
    )
    .await?;
    let rejected: Vec<&audience::RowIssue> = intake
        .issues
        .iter()
        .filter(|i| i.rejected)
        .take(100)
        .collect();
    Ok(json_response(
        201,
        &json!({"id": id, "name": input.name.trim(), "ads_account_id": account.id, "platform": account.platform,
                "member_count": intake.contacts.len(), "duplicates": intake.duplicates,
                "rejected": intake.issues.iter().filter(|i| i.rejected).count(),
                "issues": rejected, "sync_status": "pending"}),
    ))
}

/// An audience as the API shows it, with its account's platform and name.
fn audience_json(row: &AudienceRow, accounts: &[AccountRow]) -> Value {
    let mut v = row.to_json();
    if let Some(a) = accounts.iter().find(|a| a.id == row.ads_account_id) {
        v["platform"] = json!(a.platform);
        v["account_name"] = json!(a.name);
        v["account_id"] = json!(a.account_id);
    }
    v
}

pub(super) async fn list_audiences(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    let rows = store::list_audiences(&db, &tenant_id).await?;
    let accounts = store::list_accounts(&db, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"audiences": rows.iter().map(|r| audience_json(r, &accounts)).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_audience(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    let row = store::audience_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("audience"))?;
    let accounts = store::list_accounts(&db, &tenant_id).await?;
    Ok(json_response(200, &audience_json(&row, &accounts)))
}

/// The tenant's customer list `id` (lookalikes have no members of their own), or why not.
async fn customer_list_or_error(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<AudienceRow, ApiError> {
    let aud = store::audience_by_id(db, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("audience"))?;
    if aud.kind != "customer_list" {
        return Err(ApiError::new(
            409,
            "not_a_customer_list",
            "a lookalike's members are chosen by the platform; edit its source audience",
        ));
    }
    Ok(aud)
}

/// The rows of `list` that could not be used, their fields named with `list[i].` before them.
fn row_issues(list: &str, intake: &Intake) -> Vec<Value> {
    intake
        .issues
        .iter()
        .take(100)
        .map(|i| json!({"field": format!("{list}[{}].{}", i.index, i.field), "message": i.message, "rejected": i.rejected}))
        .collect()
}

#[derive(Deserialize)]
struct MembersBody {
    members: Vec<CustomerRecord>,
    #[serde(default)]
    default_country: Option<String>,
}

/// `PUT /audiences/{id}/members {members:[{email?, phone?}], default_country?}`: the list's members
/// become exactly these (hashed here); the platform follows at the next sync.
pub(super) async fn replace_members(mut req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_AUDIENCE_BYTES).await?;
    let input: MembersBody = serde_json::from_value(body).map_err(|e| {
        ApiError::field(
            "members",
            &format!("expected {{members:[{{email?, phone?}}], default_country?}}: {e}"),
        )
    })?;
    let db = bindings::db(env)?;
    let aud = customer_list_or_error(&db, &tenant_id, id).await?;
    let country = country_param(input.default_country.as_deref())?;
    // Raw emails/phones live only in this request: hashed here, never stored or logged.
    let intake = audience::intake(&input.members, country.as_deref());
    drop(input.members);
    store::replace_members(&db, &aud.id, &intake.contacts, now_secs()).await?;
    Ok(json_response(
        200,
        &json!({"id": aud.id, "member_count": intake.contacts.len(), "duplicates": intake.duplicates,
                "rejected": intake.issues.iter().filter(|i| i.rejected).count(),
                "issues": row_issues("members", &intake), "sync_status": "pending"}),
    ))
}

#[derive(Deserialize)]
struct ChangesBody {
    #[serde(default)]
    add: Vec<CustomerRecord>,
    #[serde(default)]
    remove: Vec<CustomerRecord>,
    #[serde(default)]
    default_country: Option<String>,
}

/// `PATCH /audiences/{id}/members {add:[…], remove:[…], default_country?}`: adds the contacts not
/// already members, then removes every member matching a removed contact (by email or phone).
pub(super) async fn change_members(mut req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_AUDIENCE_BYTES).await?;
    let input: ChangesBody = serde_json::from_value(body).map_err(|e| {
        ApiError::field(
            "body",
            &format!("expected {{add:[{{email?, phone?}}], remove:[{{email?, phone?}}]}}: {e}"),
        )
    })?;
    if input.add.is_empty() && input.remove.is_empty() {
        return Err(ApiError::field(
            "add",
            "give contacts to add and/or remove ({email?, phone?} each)",
        ));
    }
    let db = bindings::db(env)?;
    let aud = customer_list_or_error(&db, &tenant_id, id).await?;
    let country = country_param(input.default_country.as_deref())?;
    let changes = audience::member_changes(&input.add, &input.remove, country.as_deref());
    drop(input);
    let counts = store::change_members(
        &db,
        &aud.id,
        &changes.effective_additions(),
        &changes.remove.contacts,
        now_secs(),
    )
    .await?;
    let mut issues = row_issues("add", &changes.add);
    issues.extend(row_issues("remove", &changes.remove));
    Ok(json_response(
        200,
        &json!({"id": aud.id, "member_count": counts.after, "previous_member_count": counts.before,
                "added": counts.after_additions - counts.before,
                "removed": counts.after_additions - counts.after,
                "issues": issues, "sync_status": "pending"}),
    ))
}

/// `default_country` (ISO alpha-2) for phone numbers written without a country code.
fn country_param(v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c.to_ascii_lowercase()))
        }
        Some(_) => Err(ApiError::field(
            "default_country",
            "must be a two-letter ISO 3166-1 country code such as ES",
        )),
    }
}

/// `POST /audiences/{id}/sync`: syncs a customer list now, on the tenant's Scheduler (which holds
/// the account's Meta call budget).
pub(super) async fn sync_audience_now(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    let aud = store::audience_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("audience"))?;
    if aud.kind != "customer_list" {
        return Err(ApiError::new(
            409,
            "not_syncable",
            "only customer lists are synced; lookalikes follow their source",
        ));
    }
    let (status, mut body) = bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::SyncAudience {
            tenant_id: tenant_id.clone(),
            audience_id: id.to_string(),
        },
    )
    .await?;
    if status != 200 {
        return Ok(json_response(status, &body));
    }
    if let Some(row) = store::audience_by_id(&db, &tenant_id, id).await? {
        body["audience"] = row.to_json();
    }
    let status = if body["ok"] == json!(true) { 200 } else { 502 };
    Ok(json_response(status, &body))
}

#[derive(Deserialize)]
struct LookalikeInput {
    #[serde(default)]
    name: Option<String>,
    country: String,
    ratio: f64,
}

/// `POST /audiences/{id}/lookalike`: a Meta lookalike of a synced customer list, created at once.
pub(super) async fn lookalike(mut req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let input: LookalikeInput = serde_json::from_value(body).map_err(|e| {
        ApiError::field("body", &format!("expected {{country, ratio, name?}}: {e}"))
    })?;
    let db = bindings::db(env)?;
    let aud = store::audience_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("audience"))?;
    let account = store::account_by_id(&db, &tenant_id, &aud.ads_account_id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "the audience's ads account is gone"))?;
    if account.platform() != AdsPlatform::Meta {
        return Err(ApiError::new(
            409,
            "unsupported",
            "lookalikes exist for Meta audiences only",
        ));
    }
    let Some(origin) = aud.platform_audience_id.clone() else {
        return Err(ApiError::new(
            409,
            "not_synced",
            "sync the audience before creating a lookalike",
        ));
    };
    let spec = audience::LookalikeRequest {
        name: input.name.clone().unwrap_or_else(|| {
            format!(
                "{} lookalike {} {:.0}%",
                aud.name,
                input.country.to_ascii_uppercase(),
                input.ratio * 100.0
            )
        }),
        origin_audience_id: origin,
        country: input.country.clone(),
        ratio: input.ratio,
    };
    let token = open_token(env, &account, &account.access_token_enc, "access_token")
        .map_err(|f| upstream_error("token", &f))?;
    let planned =
        audience::plan_meta_lookalike(&config::ads_config(env), &token, &account.account_id, &spec)
            .map_err(|m| {
                let field = if m.contains("ratio") {
                    "ratio"
                } else {
                    "country"
                };
                ApiError::field(field, &m)
            })?;
    let created = audience::read_created_meta_audience(&send(&planned, timeout_ms(env)).await)
        .map_err(|f| upstream_error("lookalike creation", &f))?;
    let new_id = uuid_v4();
    let spec_json =
        json!({"country": spec.country.to_ascii_uppercase(), "ratio": spec.ratio}).to_string();
    store::create_lookalike(
        &db,
        &NewLookalike {
            id: &new_id,
            tenant_id: &tenant_id,
            ads_account_id: &account.id,
            name: &spec.name,
            platform_audience_id: &created,
            origin_audience_id: &aud.id,
            spec: &spec_json,
        },
        now_secs(),
    )
    .await?;
    let row = store::audience_by_id(&db, &tenant_id, &new_id)
        .await?
        .ok_or_else(|| ApiError::internal("lookalike", "missing after insert"))?;
    Ok(json_response(201, &row.to_json()))
}

// ---------------------------------------------------------------- sync (run by the Scheduler)

/// Syncs every customer list of the account; the first failure fails the job (after trying the
/// rest), a spent Meta budget defers it.
pub(super) async fn sync_account_audiences(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> Result<Value, RunError> {
    let ids = store::customer_list_ids(db, &account.tenant_id, &account.id)
        .await
        .map_err(internal_failure)?;
    let mut results = Vec::new();
    let mut first_failure = None;
    for id in ids {
        match sync_audience(env, &account.tenant_id, &id, budget).await {
            Ok(v) => results.push(v),
            Err(RunError::Deferred(t)) => return Err(RunError::Deferred(t)),
            Err(RunError::Failed(f)) => {
                results.push(json!({"audience_id": id, "error": f}));
                first_failure.get_or_insert(f);
            }
        }
    }
    match first_failure {
        Some(f) => Err(RunError::Failed(f)),
        None => Ok(json!({"audiences": results})),
    }
}

/// Replace-mode sync of one customer list; the audience's status records the outcome.
pub async fn sync_audience(
    env: &Env,
    tenant_id: &str,
    audience_id: &str,
    budget: &mut CallBudget,
) -> Result<Value, RunError> {
    let db = bindings::db(env).map_err(internal_failure)?;
    let aud = store::audience_by_id(&db, tenant_id, audience_id)
        .await
        .map_err(internal_failure)?
        .ok_or_else(|| {
            RunError::Failed(ApiFailure::Permanent {
                reason: "audience removed".into(),
            })
        })?;
    let account = store::account_by_id(&db, tenant_id, &aud.ads_account_id)
        .await
        .map_err(internal_failure)?
        .ok_or_else(|| {
            RunError::Failed(ApiFailure::Permanent {
                reason: "the audience's ads account was removed".into(),
            })
        })?;
    let result = replace_audience(env, &db, &account, &aud, budget).await;
    let (status, detail, error) = match &result {
        Ok(v) => (AudienceSyncStatus::Synced, Some(v.to_string()), None),
        Err(RunError::Failed(f)) => (
            AudienceSyncStatus::after(Err(f)),
            None,
            Some(f.reason().to_string()),
        ),
        Err(RunError::Deferred(_)) => (
            AudienceSyncStatus::Pending,
            None,
            Some("Meta call budget spent; deferred".to_string()),
        ),
    };
    let status_text = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "pending".into());
    // The outcome is the sync's result; a failure to record it must not hide it.
    let _ = store::record_audience_sync(
        &db,
        audience_id,
        &status_text,
        detail.as_deref(),
        error.as_deref(),
        now_secs(),
    )
    .await;
    let mut v = result?;
    v["audience_id"] = json!(audience_id);
    // A small list is often processed at once: read how the job went (a longer one is polled by
    // the account's later syncs).
    if let Some(job) = v["job"].as_str().map(str::to_string) {
        let outcome = poll_job(env, &db, &account, audience_id, &job).await;
        v["job_status"] = json!(outcome.as_ref().map(|o| o.state));
        v["match_rate"] = json!(outcome.as_ref().and_then(|o| o.match_rate.clone()));
        v["list_size"] = json!(outcome.as_ref().and_then(|o| o.list_size));
    }
    Ok(v)
}

/// Uploads the list's members in place of the platform audience's (creating it on first sync).
async fn replace_audience(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    aud: &AudienceRow,
    budget: &mut CallBudget,
) -> Result<Value, RunError> {
    let contacts = store::audience_members(db, &aud.id)
        .await
        .map_err(internal_failure)?;
    if contacts.is_empty() {
        return Err(RunError::Failed(ApiFailure::Permanent {
            reason: "the audience has no members to upload".into(),
        }));
    }
    let cfg = config::ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let now = now_secs();
    match account.platform() {
        AdsPlatform::Meta => {
            let audience_id = match &aud.platform_audience_id {
                Some(id) => id.clone(),
                None => {
                    let req = audience::plan_meta_custom_audience(
                        &cfg,
                        &token,
                        &account.account_id,
                        &aud.name,
                    );
                    let id = audience::read_created_meta_audience(
                        &meta_call(&req, budget, timeout).await?,
                    )?;
                    store::set_platform_audience(db, &aud.id, &id, now)
                        .await
                        .map_err(internal_failure)?;
                    id
                }
            };
            // One session for the whole replace; a random positive int64.
            let session_id = u64::from_le_bytes(random_bytes::<8>()) >> 12;
            let requests = audience::plan_meta_users_replace(
                &cfg,
                &token,
                &audience_id,
                &contacts,
                session_id,
            );
            if budget.remaining(now_secs()) < requests.len() {
                return Err(RunError::Deferred(
                    budget.available_at(now_secs()).max(now_secs() + 60),
                ));
            }
            let (mut received, mut invalid_entries) = (0u64, 0u64);
            for req in &requests {
                let r = audience::read_meta_batch(&meta_call(req, budget, timeout).await?)?;
                received += r.num_received;
                invalid_entries += r.num_invalid_entries;
            }
            // The size estimate is a nicety: the replace succeeded whatever it answers.
            let size = match meta_call(
                &audience::plan_meta_audience_size(&cfg, &token, &audience_id),
                budget,
                timeout,
            )
            .await
            {
                Ok(r) => audience::read_meta_audience_size(&r).ok(),
                Err(_) => None,
            };
            if let Some((lower, _)) = size {
                let _ = store::record_platform_size(db, &aud.id, lower).await;
            }
            Ok(
                json!({"platform": "meta", "platform_audience_id": audience_id, "session_id": session_id,
                      "batches": requests.len(), "members": contacts.len(),
                      "num_received": received, "num_invalid_entries": invalid_entries,
                      "approximate_count_lower_bound": size.and_then(|s| s.0),
                      "approximate_count_upper_bound": size.and_then(|s| s.1)}),
            )
        }
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            let list = match &aud.platform_audience_id {
                Some(l) => l.clone(),
                None => {
                    let req = audience::plan_google_user_list(
                        &cfg,
                        &creds,
                        &account.account_id,
                        &aud.name,
                    );
                    let l = audience::read_created_user_list(&send(&req, timeout).await)?;
                    store::set_platform_audience(db, &aud.id, &l, now)
                        .await
                        .map_err(internal_failure)?;
                    l
                }
            };
            let list_id = list.rsplit('/').next().unwrap_or_default().to_string();
            let consent = load_settings(db, &account.tenant_id)
                .await
                .map_err(internal_failure)?
                .customer_match_consent;
            let job_req = audience::plan_customer_match_job(
                &cfg,
                &creds,
                &account.account_id,
                &list_id,
                consent,
            );
            let job = audience::read_created_job(&send(&job_req, timeout).await)?;
            let ops = audience::plan_customer_match_operations(&cfg, &creds, &job, &contacts)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            let mut refused = 0;
            for req in &ops {
                refused += audience::read_add_operations(&send(req, timeout).await)?;
            }
            let run_req = audience::plan_customer_match_run(&cfg, &creds, &job)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            audience::read_google_step(&send(&run_req, timeout).await)?;
            store::record_customer_match_job(db, &aud.id, &job, refused)
                .await
                .map_err(internal_failure)?;
            Ok(
                json!({"platform": "google", "platform_audience_id": list, "job": job,
                      "batches": ops.len(), "members": contacts.len(), "refused_operations": refused,
                      "consent": consent}),
            )
        }
    }
}

/// Reads a Customer Match job's outcome and records it on the audience; None when it could not
/// be read (the next sync tries again).
async fn poll_job(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    audience_id: &str,
    job: &str,
) -> Option<audience::JobOutcome> {
    let token = access_token(env, db, account).await.ok()?;
    let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
    let req = audience::plan_customer_match_status(
        &config::ads_config(env),
        &creds,
        &account.account_id,
        job,
    )
    .ok()?;
    let outcome = audience::read_customer_match_status(&send(&req, timeout_ms(env)).await).ok()?;
    store::record_customer_match_outcome(db, audience_id, &outcome, now_secs())
        .await
        .ok()?;
    Some(outcome)
}

/// Polls the account's Customer Match jobs that have not ended; how many were read.
pub(super) async fn poll_customer_match_jobs(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
) -> usize {
    let running = store::audiences_with_running_jobs(db, &account.tenant_id, &account.id)
        .await
        .unwrap_or_default();
    let mut polled = 0;
    for aud in running {
        let Some(job) = aud.platform_job.as_deref() else {
            continue;
        };
        if poll_job(env, db, account, &aud.id, job).await.is_some() {
            polled += 1;
        }
    }
    polled
}
