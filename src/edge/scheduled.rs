//! Cron entry: retention. Scheduled jobs are idempotent (a rerun finds nothing left to purge).

use worker::{Env, ScheduledEvent};

use super::now_secs;
use super::store::d1;

pub async fn run(event: ScheduledEvent, env: Env) {
    let cron = event.cron();
    match d1::db(&env) {
        Ok(db) => match d1::purge(&db, now_secs()).await {
            Ok((ips, events)) => worker::console_log!(
                "retention ({cron}): {ips} ips cleared, {events} events deleted"
            ),
            Err(e) => worker::console_error!("retention ({cron}) failed: {}", e.message),
        },
        Err(e) => worker::console_error!("retention ({cron}): {}", e.message),
    }
}
