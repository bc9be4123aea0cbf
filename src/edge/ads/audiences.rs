//! Audiences: the API (customer lists uploaded and hashed here, lookalikes of a synced Meta list)
//! and the replace-mode sync of a customer list to its platform, which the Scheduler runs.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Env, Request};

use super::client::{
    access_token, google_creds, internal_failure, meta_call, open_token, send, timeout_ms, RunError,
};
use super::upstream_error;
use crate::core::ads::audience::{self, AudienceSyncStatus, CustomerRecord};
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
    let country = input
        .default_country
        .as_deref()
        .map(str::to_ascii_lowercase);
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

pub(super) async fn list_audiences(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let rows = store::list_audiences(&bindings::db(env)?, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"audiences": rows.iter().map(AudienceRow::to_json).collect::<Vec<_>>()}),
    ))
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
    result.map(|mut v| {
        v["audience_id"] = json!(audience_id);
        v
    })
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
            Ok(
                json!({"platform": "meta", "platform_audience_id": audience_id, "session_id": session_id,
                      "batches": requests.len(), "members": contacts.len(),
                      "num_received": received, "num_invalid_entries": invalid_entries}),
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
            let job_req = audience::plan_customer_match_job(
                &cfg,
                &creds,
                &account.account_id,
                &list_id,
                None,
            );
            let job = audience::read_created_job(&send(&job_req, timeout).await)?;
            let ops = audience::plan_customer_match_operations(&cfg, &creds, &job, &contacts)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            for req in &ops {
                audience::read_google_step(&send(req, timeout).await)?;
            }
            let run_req = audience::plan_customer_match_run(&cfg, &creds, &job)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            audience::read_google_step(&send(&run_req, timeout).await)?;
            Ok(
                json!({"platform": "google", "platform_audience_id": list, "job": job,
                      "batches": ops.len(), "members": contacts.len()}),
            )
        }
    }
}
