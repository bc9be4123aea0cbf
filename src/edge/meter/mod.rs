//! What this isolate did that Cloudflare bills, counted where it happens, for `scripts/bench`'s
//! cost report (`GET /internal/meter`, admin token). Counting is a few integer additions; the
//! numbers live in the isolate and start at zero with it.

mod route;
pub use route::serve;

use std::cell::Cell;

/// A billable operation.
#[derive(Clone, Copy)]
pub enum Op {
    /// A Worker invocation: a request, or a queue consumer batch.
    Invocation,
    KvRead,
    KvWrite,
    /// Rows D1 reports written (each index updated counts, as billed).
    D1RowsWritten,
    /// A request to a Durable Object.
    DoRequest,
    QueueMessage,
    /// 64 KB units of queue messages (the Queue bills each write, read and delete per unit).
    QueueUnit,
    /// R2 writes and lists (history parts written, keys listed).
    R2ClassA,
    /// R2 reads (history parts read by the audit API and erase rewrites).
    R2ClassB,
}

const OPS: usize = 9;
const NAMES: [&str; OPS] = [
    "invocations",
    "kv_reads",
    "kv_writes",
    "d1_rows_written",
    "do_requests",
    "queue_messages",
    "queue_units",
    "r2_class_a",
    "r2_class_b",
];

thread_local! {
    static COUNTS: Cell<[u64; OPS]> = const { Cell::new([0; OPS]) };
    /// The D1 database's size as its last write here reported it (a gauge, not a count).
    static D1_BYTES: Cell<u64> = const { Cell::new(0) };
}

pub fn d1_size(bytes: u64) {
    D1_BYTES.with(|b| b.set(bytes));
}

pub fn add(op: Op, n: u64) {
    COUNTS.with(|c| {
        let mut v = c.get();
        v[op as usize] += n;
        c.set(v);
    });
}

/// Every count so far, by name.
pub fn snapshot() -> serde_json::Value {
    let v = COUNTS.with(Cell::get);
    let mut out: serde_json::Map<String, serde_json::Value> = NAMES
        .iter()
        .zip(v)
        .map(|(k, n)| (k.to_string(), n.into()))
        .collect();
    out.insert("d1_bytes".into(), D1_BYTES.with(Cell::get).into());
    serde_json::Value::Object(out)
}
