//! Storage adapters: D1 is the record of truth, KV the edge read cache.
pub mod d1;
pub mod kv;
