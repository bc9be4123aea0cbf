//! Durable Objects.
#[cfg(feature = "jobs")]
pub mod scheduler;
#[cfg(feature = "jobs")]
pub mod shard;
pub mod shard_calls;

/// One column of the first row a Durable Object SQL query returned. Read straight off the JS row
/// object: the cursor's typed `to_array` goes through serde_wasm_bindgen, a second deserializer
/// in the wasm for a single value.
pub(crate) fn first_column(
    cursor: worker::Result<worker::SqlCursor>,
    name: &str,
) -> Option<wasm_bindgen::JsValue> {
    let mut cursor = cursor.ok()?;
    let row = Iterator::next(&mut cursor)?.ok()?;
    column(&row, name)
}

/// One column of a row a Durable Object SQL cursor yielded.
pub(crate) fn column(row: &wasm_bindgen::JsValue, name: &str) -> Option<wasm_bindgen::JsValue> {
    js_sys::Reflect::get(row, &wasm_bindgen::JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())
}
