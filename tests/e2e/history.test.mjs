// The per-event history past the 48 h window, in real workerd with wrangler's local R2: before an
// event shard drops a day's table it writes the day's events to R2 (gzipped NDJSON, hashed PII
// only, no IP or user agent); the event detail then answers from it with `archived: true` in the
// live answer's shape, the tenant's retention deletes it, and an erase hides it at once and has
// it rewritten out of the files at the next retention run. Time moves by the retention cron's
// scheduled time (the shard's `/retention` takes it as `now`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startGateway, waitFor } from "./harness.mjs";

const DAY = 86400;
const nowS = () => Math.floor(Date.now() / 1000);
const today = () => new Date().toISOString().slice(0, 10);
const domain = "history.example", origin = `https://${domain}`;
const IP = "198.51.100.77";
const EMAIL = "History.Person@Example.com";
const BULK = 200;
let gw, t, meta, ga4;
const live = {};

const detail = (id, q = "") => gw.req("GET", `/api/v1/tracking/events/${id}${q}`, { token: t.api_key });
const retention = (at) => gw.cron("15 3 * * *", at);

/** The text of every history object wrangler's local R2 keeps on disk (gunzipped). */
function r2Texts() {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (dir.endsWith("blobs")) {
        try { out.push(gunzipSync(readFileSync(p)).toString("utf8")); } catch {}
      }
    }
  };
  try { walk(join(gw.dir, "v3", "r2")); } catch {}
  return out;
}

before(async () => {
  gw = await startGateway();
  t = await gw.tenant([domain]);
  meta = await gw.pixel(t.api_key, { platform: "meta", pixel_id: String(700000 + Math.floor(Math.random() * 99999)), access_token: "tok" });
  ga4 = await gw.pixel(t.api_key, { platform: "google", pixel_id: "G-HIST1", api_secret: "s" });
  for (const v of ["h-keep", "h-erase", "h-early"]) {
    assert.equal((await gw.consent(t, v, { marketing: true, analytics: true }, origin)).status, 201);
  }
  const ev = (id, visitor, extra = {}) => ({ event_id: id, event_name: "purchase", visitor_id: visitor, url: `${origin}/checkout`,
    user_data: { email: EMAIL, phone: "+1 415 555 2671", first_name: "Ana" }, custom_data: { value: 49.9, currency: "EUR" }, ...extra });
  const bulk = Array.from({ length: BULK }, (_, i) => ({
    event_id: `h-bulk-${i}`, event_name: i % 4 ? "page_view" : "add_to_cart", visitor_id: `h-bulk-v${i % 40}`,
    url: `${origin}/p/${i}?utm_source=news&utm_campaign=spring`, referrer: "https://www.google.com/",
    user_data: { email: `bulk${i % 40}@example.com` }, click_ids: { fbp: "fb.1.1700000000000.1234567890" },
  }));
  for (const events of [[ev("h-1", "h-keep"), ev("h-2", "h-erase"), ev("h-3", "h-early")], bulk.slice(0, 100), bulk.slice(100)]) {
    const r = await gw.req("POST", `/api/v1/tracking/events/batch?site_key=${t.site_key}`, {
      headers: { origin, "content-type": "text/plain", "user-agent": "Mozilla/5.0 (history e2e)", "cf-connecting-ip": IP },
      body: { events },
    });
    assert.equal(r.status, 202, r.text);
  }
  await waitFor(async () => {
    for (const id of ["h-1", "h-2", "h-3"]) {
      const r = await detail(id);
      if (r.status !== 200 || !r.json.destinations.every((d) => d.status === "delivered")) return false;
      live[id] = r.json;
    }
    return true;
  }, { what: "the events delivered", timeout: 60_000 });
  // Erased while its day is still in the shard: never written to the history.
  assert.equal((await gw.req("DELETE", "/api/v1/tracking/consent/h-early", { token: t.api_key })).status, 200);
  // Three days on, today's table is past the window: exported, then dropped.
  await retention(nowS() + 3 * DAY);
});
after(async () => { await gw?.stop(); });

test("past the window the event detail answers from the history: the live shape, archived, hashed PII only", async () => {
  assert.equal((await gw.recent(t.api_key)).length, 0, "the day's table is dropped");
  const r = await detail("h-1");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.archived, true);
  const { archived, ...shape } = r.json;
  assert.deepEqual(shape, live["h-1"], "the same answer as within the window");
  assert.deepEqual(shape.destinations.map((d) => [d.pixel_id, d.status]).sort(), [[ga4.id, "delivered"], [meta.id, "delivered"]].sort());
  const text = r.text.toLowerCase();
  assert.ok(!text.includes(EMAIL.toLowerCase()) && !text.includes(IP) && !text.includes("history e2e"), r.text);
  assert.match(JSON.stringify(r.json.user_data), /[0-9a-f]{64}/);

  // What R2 holds: the day's events, hashed PII only, no IP, no user agent.
  const files = r2Texts().join("");
  assert.ok(files.includes('"h-1"') && files.includes('"h-bulk-199"'), "the day's events are in R2");
  for (const raw of [EMAIL, EMAIL.toLowerCase(), "bulk7@example.com", IP, "history e2e", '"Ana"', '"ana"', "4155552671"]) {
    assert.ok(!files.includes(raw), `no ${raw} in the history files`);
  }
  const m = gw.log().match(/day \d{4}-\d{2}-\d{2} in the history: (\d+) events, (\d+) parts, (\d+) bytes \((\d+) before gzip\)/);
  assert.ok(m, "the export is logged");
  const [events, parts, bytes, raw] = m.slice(1).map(Number);
  assert.equal(events, BULK + 2, "h-early was erased before the export");
  console.log(`history: ${events} events in ${parts} part(s), ${bytes} bytes gzipped (${raw} before), `
    + `${Math.round(bytes / events)} bytes/event (${Math.round(raw / events)} before gzip)`);
});

test("a date hint narrows the search to one day; a malformed one is refused", async () => {
  assert.equal((await detail("h-1", `?date=${today()}`)).json?.archived, true);
  const yesterday = new Date(Date.now() - DAY * 1000).toISOString().slice(0, 10);
  assert.equal((await detail("h-1", `?date=${yesterday}`)).status, 404);
  const bad = await detail("h-1", "?date=2026-13-01");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "date");
  assert.equal((await detail("no-such-event")).status, 404);
  assert.equal((await detail("h-3")).status, 404, "erased before the export");
});

test("an erase hides the visitor's archived events at once, and the next retention run removes them from the files", async () => {
  assert.equal((await detail("h-2")).status, 200);
  assert.equal((await gw.req("DELETE", "/api/v1/tracking/consent/h-erase", { token: t.api_key })).status, 200);
  assert.equal((await detail("h-2")).status, 404, "hidden at once");
  assert.equal((await detail("h-1")).status, 200, "other visitors' events stay");
  await retention(nowS() + 4 * DAY);
  assert.match(gw.log(), /history retention: 0 files past retention deleted, 1 events of erased visitors removed, 0 erasures pending/);
  assert.equal((await detail("h-2")).status, 404);
  assert.equal((await detail("h-1")).status, 200);
});

test("the tenant's retention deletes the history past it", async () => {
  await retention(nowS() + 91 * DAY);
  assert.match(gw.log(), /history retention: 1 files past retention deleted/);
  assert.equal((await detail("h-1")).status, 404);
  assert.equal((await detail("h-bulk-5")).status, 404);
});
