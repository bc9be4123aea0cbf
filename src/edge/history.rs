//! The history files in R2 (`core::history` names and formats them): the event shards write a
//! day's events before dropping its table and keep their own files (retention, erase); the audit
//! API reads them for events past the 48 h window. Parts are gzipped with the runtime's own
//! `CompressionStream` (native code, nothing added to the wasm).

use std::collections::HashMap;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableWritablePair, Response as JsResponse};
use worker::{Bucket, Env};

use super::meter::{add, Op};
use super::{bindings, ApiError};
use crate::core::history::{self, lookup_order, without_visitors, ArchivedEvent};

// web-sys has these streams only behind its unstable-API cfg: bound here, the two constructors
// are all that is used (each object is a readable/writable pair itself).
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = CompressionStream)]
    type Compression;
    #[wasm_bindgen(constructor, js_class = "CompressionStream", catch)]
    fn new(format: &str) -> Result<Compression, JsValue>;
    #[wasm_bindgen(js_name = DecompressionStream)]
    type Decompression;
    #[wasm_bindgen(constructor, js_class = "DecompressionStream", catch)]
    fn new(format: &str) -> Result<Decompression, JsValue>;
}

fn js_err(what: &str) -> impl Fn(JsValue) -> ApiError + '_ {
    move |e| ApiError::internal(what, format!("{e:?}"))
}

/// `bytes` through a (de)compression stream, read whole.
async fn transform(bytes: &[u8], pair: ReadableWritablePair) -> Result<Vec<u8>, ApiError> {
    let input = JsResponse::new_with_opt_u8_array(Some(&mut bytes.to_vec()))
        .map_err(js_err("gzip input"))?;
    let body = input
        .body()
        .ok_or_else(|| ApiError::internal("gzip", "no body"))?;
    let out = JsResponse::new_with_opt_readable_stream(Some(&body.pipe_through(&pair)))
        .map_err(js_err("gzip output"))?;
    let buf = JsFuture::from(out.array_buffer().map_err(js_err("gzip read"))?)
        .await
        .map_err(js_err("gzip"))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

pub async fn gzip(text: &str) -> Result<Vec<u8>, ApiError> {
    let s = Compression::new("gzip").map_err(js_err("gzip"))?;
    transform(text.as_bytes(), s.unchecked_into()).await
}

pub async fn gunzip(bytes: &[u8]) -> Result<String, ApiError> {
    let s = Decompression::new("gzip").map_err(js_err("gunzip"))?;
    let out = transform(bytes, s.unchecked_into()).await?;
    String::from_utf8(out).map_err(|e| ApiError::internal("gunzip", e))
}

/// Writes one part (gzipped); its size in bytes. One class A operation.
pub async fn put_part(bucket: &Bucket, key: &str, text: &str) -> Result<usize, ApiError> {
    let body = gzip(text).await?;
    let n = body.len();
    add(Op::R2ClassA, 1);
    bucket
        .put(key, body)
        .execute()
        .await
        .map_err(|e| ApiError::internal("history put", e))?;
    Ok(n)
}

/// Reads one part's text; None if it is gone. One class B operation.
pub async fn read_part(bucket: &Bucket, key: &str) -> Result<Option<String>, ApiError> {
    add(Op::R2ClassB, 1);
    let Some(object) = bucket
        .get(key)
        .execute()
        .await
        .map_err(|e| ApiError::internal("history get", e))?
    else {
        return Ok(None);
    };
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let bytes = body
        .bytes()
        .await
        .map_err(|e| ApiError::internal("history read", e))?;
    gunzip(&bytes).await.map(Some)
}

/// A tenant's keys under `prefix`, in key order, at most `max_pages` pages of 1,000 (a class A
/// operation each).
pub async fn list_keys(
    bucket: &Bucket,
    prefix: &str,
    max_pages: usize,
) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let mut ask = bucket.list().prefix(prefix).limit(1000);
        if let Some(c) = cursor.take() {
            ask = ask.cursor(c);
        }
        add(Op::R2ClassA, 1);
        let page = ask
            .execute()
            .await
            .map_err(|e| ApiError::internal("history list", e))?;
        keys.extend(page.objects().iter().map(|o| o.key()));
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => break,
        }
    }
    Ok(keys)
}

/// Deletes keys (free in R2), 1,000 a call.
pub async fn delete_keys(bucket: &Bucket, keys: &[String]) -> Result<(), ApiError> {
    for chunk in keys.chunks(1000) {
        bucket
            .delete_multiple(chunk.iter().map(String::as_str).collect())
            .await
            .map_err(|e| ApiError::internal("history delete", e))?;
    }
    Ok(())
}

/// Rewrites a part without the events of erased visitors (visitor id → when erased); how many
/// lines went.
pub async fn erase_in_part(
    bucket: &Bucket,
    key: &str,
    visitors: &HashMap<String, i64>,
) -> Result<usize, ApiError> {
    let Some(text) = read_part(bucket, key).await? else {
        return Ok(0);
    };
    match without_visitors(&text, visitors) {
        None => Ok(0),
        Some((left, gone)) => {
            if left.is_empty() {
                delete_keys(bucket, &[key.to_string()]).await?;
            } else {
                put_part(bucket, key, &left).await?;
            }
            Ok(gone)
        }
    }
}

/// How many list pages a lookup reads (1,000 keys each).
const LOOKUP_LIST_PAGES: usize = 20;

/// The archived event `event_id` of the tenant, from the parts of `shards` within the retention
/// (of day `hint` only, when given), newest day first. Bounded: the tenant's keys (at most
/// `LOOKUP_LIST_PAGES` pages) and then one read per part until it is found.
pub async fn find(
    env: &Env,
    tenant_id: &str,
    event_id: &str,
    shards: &[u32],
    retention_days: i64,
    hint: Option<i64>,
) -> Result<Option<ArchivedEvent>, ApiError> {
    let bucket = bindings::history(env)?;
    let now = super::now_secs();
    let prefix = match hint {
        Some(day) => history::day_prefix(tenant_id, day),
        None => history::tenant_prefix(tenant_id),
    };
    let keys = list_keys(&bucket, &prefix, LOOKUP_LIST_PAGES).await?;
    for key in lookup_order(tenant_id, &keys, shards, now, retention_days, hint) {
        if let Some(found) = read_part(&bucket, &key)
            .await?
            .and_then(|text| history::find(&text, event_id))
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}
