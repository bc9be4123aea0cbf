// The billable operations an event causes, observed: N beacons (one event each, 5 per visitor,
// each visitor choosing consent first) to a tenant with one pixel and to one with four, while the
// fake platforms answer. Every operation is counted where it happens (`GET /internal/meter`:
// Worker invocations, KV reads and writes, D1 rows written as D1 reports them, Durable Object
// requests, queue messages and 64 KB units; the event shards' SQLite rows written, requests,
// alarms) and priced at Cloudflare's list prices. Consent choices are priced apart (one per
// visitor, not per event). Prints one JSON object (scripts/bench puts it under `cost`).
// Usage: node benches/cost.mjs [events per tenant]
import { readdirSync, readFileSync } from "node:fs";
import { startGateway, sleep, waitFor, ADMIN_TOKEN } from "../tests/e2e/harness.mjs";

const EVENTS = Number(process.argv[2] || 1000);
const EVENTS_PER_VISITOR = 5;
const CONCURRENCY = 16;
// USD per operation (Workers Paid list prices).
const PRICE = {
  invocations: 0.30e-6, cpu_ms: 0.02e-6, do_requests: 0.15e-6, do_rows_written: 1.0e-6,
  d1_rows_written: 1.0e-6, queue_operations: 0.40e-6, kv_reads: 0.50e-6, kv_writes: 5.0e-6,
  // R2: class A (writes, lists: history parts written), class B (reads: archived event lookups).
  r2_class_a: 4.50e-6, r2_class_b: 0.36e-6,
};

function workerdCpuMs(pgid) {
  let ms = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (comm === "workerd" && Number(rest[2]) === pgid) ms += (Number(rest[11]) + Number(rest[12])) * 10;
    } catch {}
  }
  return ms;
}

async function meter(gw, tenant) {
  const r = await fetch(`${gw.base}/internal/meter?tenant=${tenant}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (r.status !== 200) throw new Error(`meter: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Sum of every counter of the meter (beacon + jobs Worker), plus the shards' own; D1's size is
 * the larger of the two Workers' last readings (each sees the size its own writes left). */
function flat(m) {
  const out = {};
  for (const part of [m.beacon, m.jobs]) for (const [k, v] of Object.entries(part || {})) out[k] = (out[k] || 0) + v;
  out.d1_bytes = Math.max(m.beacon?.d1_bytes || 0, m.jobs?.d1_bytes || 0);
  for (const [k, v] of Object.entries(m.shards || {})) out[`shard_${k}`] = v;
  return out;
}
const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] || 0) - (a[k] || 0)]));

/**
 * The i-th event of the run, in a shop's usual mix: each visitor lands from a campaign (utm on the
 * first page), then browses; 75 % page views, 15 % content views, 5 % add-to-cart, 5 % purchases.
 */
function mix(i) {
  const visitor = Math.floor(i / EVENTS_PER_VISITOR);
  const first = i % EVENTS_PER_VISITOR === 0;
  const origin = "https://shop.example";
  const user = { email: `user${visitor}@example.com`, phone: "+1 415 555 2671", first_name: "Ana", last_name: "López" };
  const base = { visitor_id: `v${visitor}`, click_ids: { fbp: "fb.1.1700000000000.1234" }, user_data: user };
  const kind = i % 20;
  if (kind === 19) return { ...base, event_name: "purchase", url: `${origin}/thanks`, custom_data: { value: 42.5, currency: "USD", content_ids: ["sku-1"] } };
  if (kind === 18) return { ...base, event_name: "add_to_cart", url: `${origin}/p/1`, custom_data: { value: 42.5, currency: "USD", content_ids: ["sku-1"] } };
  if (kind >= 15) return { ...base, event_name: "view_content", url: `${origin}/p/${kind}`, custom_data: { content_ids: [`sku-${kind}`] } };
  return { ...base, event_name: "page_view", url: first ? `${origin}/?utm_source=newsletter&utm_medium=email&utm_campaign=dec` : `${origin}/c/${kind}` };
}

const PIXELS = [

  { platform: "meta", pixel_id: "123456789", access_token: "tok" },
  { platform: "google", pixel_id: "G-COST12345", api_secret: "s" },
  { platform: "linkedin", pixel_id: "7654321", access_token: "tok", event_names: ["purchase", "page_view"] },
  { platform: "tiktok", pixel_id: "CCOSTPIXEL0123456789", access_token: "tok" },
];

async function run(gw, pixels) {
  const origin = "https://shop.example";
  const t = await gw.tenant(["shop.example"]);
  for (const p of PIXELS.slice(0, pixels)) await gw.pixel(t.api_key, p);
  const visitors = Math.ceil(EVENTS / EVENTS_PER_VISITOR);
  // Warm the isolates and the shard, then measure from a quiet state.
  await gw.consent(t, "warm", { marketing: true, analytics: true });
  await gw.event(t, { event_id: "warm", event_name: "purchase", visitor_id: "warm", url: `${origin}/x` });
  await sleep(2000);

  const m0 = flat(await meter(gw, t.tenant_id));
  const c0 = workerdCpuMs(gw.processGroup);
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < visitors) {
      const v = `v${next++}`;
      const r = await gw.consent(t, v, { marketing: true, analytics: true });
      if (r.status !== 201) throw new Error("consent " + r.text);
    }
  }));
  const m1 = flat(await meter(gw, t.tenant_id));
  const c1 = workerdCpuMs(gw.processGroup);
  let sent = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < EVENTS) {
      const i = sent++;
      const r = await gw.event(t, { event_id: `cost-${pixels}-${i}`, ...mix(i) });

      if (r.status !== 202) throw new Error("event " + r.text);
    }
  }));
  // Settled: every destination delivered, and the shards' counts added to D1 (about a minute).
  // LinkedIn takes only the names its conversion rule lists (purchases and page views here).
  const toLinkedin = Array.from({ length: EVENTS }, (_, i) => mix(i).event_name).filter((n) => n === "purchase" || n === "page_view").length;
  const want = EVENTS * Math.min(pixels, 2) + (pixels > 2 ? toLinkedin + EVENTS * (pixels - 3) : 0);

  let last;
  await waitFor(async () => {
    last = (await gw.req("GET", "/api/v1/tracking/events/stats", { token: t.api_key })).json;
    // Every destination settled (the warm-up event has no user data: LinkedIn refuses it).
    const settled = Object.values(last.platforms || {}).reduce((n, p) => n + (p.delivered || 0) + (p.failed || 0), 0);
    return settled >= want + pixels;

  }, { timeout: 180_000, every: 1000, what: "every delivery" }).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)}`);
  });

  await sleep(65_000);
  const m2 = flat(await meter(gw, t.tenant_id));
  const c2 = workerdCpuMs(gw.processGroup);

  const events = diff(m1, m2);
  const consent = diff(m0, m1);
  const per = (d, n) => ({
    invocations: d.invocations / n,
    cpu_ms: d.cpu_ms / n,
    kv_reads: d.kv_reads / n,
    kv_writes: d.kv_writes / n,
    d1_rows_written: d.d1_rows_written / n,
    do_requests: (d.do_requests + (d.shard_alarms || 0)) / n,
    do_alarms: (d.shard_alarms || 0) / n,
    do_rows_written: (d.shard_rows_written || 0) / n,
    queue_messages: d.queue_messages / n,
    queue_operations: (3 * d.queue_units) / n,
    // Each shard writes a day's history once, when the day leaves the 48 h window (never within
    // this run, so 0 here): one PUT per part (≤ 16 MB, ≤ 50,000 events), so ≤ 1 per 1,000s of events.
    r2_class_a: (d.r2_class_a || 0) / n,
    r2_class_b: (d.r2_class_b || 0) / n,
  });
  events.cpu_ms = c2 - c1;
  consent.cpu_ms = c1 - c0;
  const perEvent = per(events, EVENTS);
  const perChoice = per(consent, visitors);
  const usd = (p) => Object.entries(PRICE).reduce((sum, [k, price]) => sum + (p[k] || 0) * price, 0);
  const round = (x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    pixels, events: EVENTS, visitors,
    per_event: Object.fromEntries(Object.entries(perEvent).map(([k, v]) => [k, round(v)])),
    usd_per_million_events: round(usd(perEvent) * 1e6, 2),
    per_consent_choice: Object.fromEntries(Object.entries(perChoice).map(([k, v]) => [k, round(v)])),
    usd_per_million_consent_choices: round(usd(perChoice) * 1e6, 2),
    // SQLite's own size of the tenant's shards (sqlite database_size) and of D1 (size_after).
    do_bytes_per_event: Math.round((m2.shard_database_bytes - m1.shard_database_bytes) / EVENTS),
    d1_bytes_per_event: Math.round((m2.d1_bytes - m1.d1_bytes) / EVENTS),
  };
}

const gw = await startGateway({ RETRY_BASE_SECONDS: "30" });
let out;
try {
  const one = await run(gw, 1);
  const four = await run(gw, 4);
  out = {
    usd_per_million_events: { one_pixel: one.usd_per_million_events, four_pixels: four.usd_per_million_events },
    per_event: { one_pixel: one.per_event, four_pixels: four.per_event },
    // Workers CPU is priced at workerd's whole CPU per event here (an upper bound: locally it
    // also runs KV, D1, Queues and Durable Object storage).
    do_bytes_per_event: { one_pixel: one.do_bytes_per_event, four_pixels: four.do_bytes_per_event },
    d1_bytes_per_event: { one_pixel: one.d1_bytes_per_event, four_pixels: four.d1_bytes_per_event },
    per_consent_choice: four.per_consent_choice,
    usd_per_million_consent_choices: four.usd_per_million_consent_choices,
    events_per_run: EVENTS, events_per_visitor: EVENTS_PER_VISITOR,
    prices_usd: PRICE,
  };
} finally {
  await gw.stop();
}
console.log(JSON.stringify(out));
