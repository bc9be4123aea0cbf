//! Durable Objects.
pub mod dedup;
pub mod scheduler;
