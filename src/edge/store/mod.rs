//! Storage adapters: D1 is the record of truth, KV the edge read cache.
// The ads module's tables (jobs Worker only).
#[cfg(feature = "jobs")]
pub mod ads;
pub mod d1;
pub mod kv;
