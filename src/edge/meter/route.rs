//! The meter's report: this Worker's counts, the jobs Worker's, and a tenant's event shards'.

/// `GET /internal/meter[?tenant=…]` (admin token): this Worker's counts; the beacon Worker adds
/// the jobs Worker's and, for `tenant`, the sum of its event shards' (rows written, requests,
/// alarms, parcels sent).
pub async fn serve(req: worker::Request, env: &worker::Env) -> crate::edge::ApiResult {
    crate::edge::auth::require_admin(&req, env).await?;
    #[cfg(feature = "jobs")]
    {
        Ok(crate::edge::json_response(
            200,
            &serde_json::json!({ "worker": super::snapshot() }),
        ))
    }
    #[cfg(not(feature = "jobs"))]
    {
        use crate::edge::store::d1;
        let own = super::snapshot();
        let tenant = crate::edge::request::query_nonempty(&req, "tenant");
        let mut jobs = crate::edge::jobs::forward(req, env).await?;
        let jobs: serde_json::Value = jobs
            .json()
            .await
            .map_err(|e| crate::edge::ApiError::internal("jobs meter", e))?;
        let mut shards = serde_json::Map::new();
        if let Some(t) = tenant {
            let layout = d1::shard_layout(&crate::edge::bindings::db(env)?, &t).await?;
            let meters: Vec<serde_json::Value> = crate::edge::durable::shard_calls::each_shard(
                env,
                &t,
                &layout,
                "/meter",
                &serde_json::json!({}),
            )
            .await?;
            for m in meters.iter().filter_map(|m| m.as_object()) {
                for (k, v) in m {
                    let sum = shards.get(k).and_then(|s| s.as_u64()).unwrap_or(0);
                    shards.insert(k.clone(), (sum + v.as_u64().unwrap_or(0)).into());
                }
            }
        }
        Ok(crate::edge::json_response(
            200,
            &serde_json::json!({"beacon": own, "jobs": jobs["worker"], "shards": shards}),
        ))
    }
}
