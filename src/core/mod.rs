//! The functional core: pure Rust, no `worker` types, tested natively with `cargo test`.
pub mod ads;
pub mod consent;
pub mod dedup;
pub mod destinations;
pub mod event;
pub mod fanout;
pub mod hash;
pub mod mapping;
pub mod normalize;
pub mod outbound;
pub mod retry;
pub mod secrets;
pub mod stats;
pub mod tenant;
pub mod health;
pub mod ratelimit;
pub mod retention;
