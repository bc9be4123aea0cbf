//! Durable Objects.
pub mod dedup;
