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
        crate::edge::http::handle(req, env, ctx).await
    }

    #[event(queue)]
    async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
        crate::edge::dispatch::consume(batch, env).await
    }

    #[event(scheduled)]
    async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        crate::edge::scheduled::run(event, env).await
    }
}
