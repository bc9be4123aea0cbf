//! pixelgate: an edge server-side tracking gateway.
//!
//! `core` is pure Rust (validation, normalization, hashing, consent, dedup rules, platform
//! request planning) and is tested natively. `edge` is the thin Cloudflare adapter: bindings,
//! HTTP, storage, queue consumer, Durable Objects. Only the entry points live here.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(target_arch = "wasm32")]
mod entry {
    use worker::*;

    #[event(start)]
    fn start() {
        console_error_panic_hook::set_once();
    }

    #[event(fetch)]
    async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
        crate::edge::meter::add(crate::edge::meter::Op::Invocation, 1);
        crate::edge::http::handle(req, env, ctx).await
    }

    #[cfg(feature = "jobs")]
    #[event(queue)]
    async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
        crate::edge::meter::add(crate::edge::meter::Op::Invocation, 1);
        crate::edge::delivery::consume(batch, env).await
    }

    #[event(scheduled)]
    async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        let (cron, now) = (event.cron(), (event.schedule() / 1000.0) as i64);
        #[cfg(feature = "jobs")]
        crate::edge::scheduled::run(&cron, now, &env).await;
        // The beacon Worker holds the cron triggers and hands each run to the jobs Worker.
        #[cfg(not(feature = "jobs"))]
        crate::edge::jobs::forward_cron(&env, &cron, now).await;
    }
}
