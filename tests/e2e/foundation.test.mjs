// Foundation slice in real workerd: tenants, pixels, consent, intake, dedup, queue, Meta CAPI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sha256, sleep, ADMIN_TOKEN } from "./harness.mjs";

let gw, shop, metaPixel;
const now = () => Math.floor(Date.now() / 1000);
const META_PATH = (id) => `/v24.0/${id}/events`;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  metaPixel = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "111222333", access_token: "EAAB-secret-token" });
});
after(async () => { await gw?.stop(); });

async function deliveriesOf(apiKey, eventId) {
  const ev = (await gw.recent(apiKey)).find((e) => e.event_id === eventId);
  return ev?.deliveries ?? [];
}

async function metaEventsWithId(pixelId, eventId) {
  const reqs = await gw.upstream(META_PATH(pixelId));
  return reqs.flatMap((r) => JSON.parse(r.body).data.map((d) => ({ ...d, _req: r }))).filter((d) => d.event_id === eventId);
}

test("healthz answers with a version", async () => {
  const r = await gw.req("GET", "/healthz");
  assert.equal(r.status, 200);
  assert.equal(r.json.ok, true);
  assert.match(r.json.version, /^\d+\.\d+\.\d+/);
});

test("tenant creation needs the admin token and returns keys once", async () => {
  const denied = await gw.req("POST", "/api/v1/tenants", { token: "wrong", body: { name: "x", domains: ["a.example"] } });
  assert.equal(denied.status, 401);
  assert.equal(denied.json.error.code, "unauthorized");
  assert.match(shop.site_key, /^pk_/);
  assert.match(shop.api_key, /^sk_/);
  const bad = await gw.req("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { name: "x", domains: ["not a host"] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "domains[0]");
});

test("pixels CRUD never returns secrets", async () => {
  assert.equal(metaPixel.has_access_token, true);
  assert.ok(!JSON.stringify(metaPixel).includes("EAAB-secret-token"));
  const list = await gw.req("GET", "/api/v1/tracking/pixels", { token: shop.api_key });
  assert.equal(list.status, 200);
  assert.ok(list.json.pixels.some((p) => p.id === metaPixel.id));
  assert.ok(!list.text.includes("EAAB-secret-token"));
  const bad = await gw.req("POST", "/api/v1/tracking/pixels", { token: shop.api_key, body: { platform: "meta", pixel_id: "abc", access_token: "x" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "pixel_id");
  const extra = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "999000111", access_token: "tok2", is_active: false });
  const upd = await gw.req("PUT", `/api/v1/tracking/pixels/${extra.id}`, { token: shop.api_key, body: { test_event_code: "TEST42" } });
  assert.equal(upd.status, 200);
  assert.equal(upd.json.test_event_code, "TEST42");
  assert.equal(upd.json.is_active, false);
  assert.equal(upd.json.has_access_token, true, "token kept when not sent");
  const del = await gw.req("DELETE", `/api/v1/tracking/pixels/${extra.id}`, { token: shop.api_key });
  assert.equal(del.status, 200);
  assert.equal((await gw.req("GET", `/api/v1/tracking/pixels/${extra.id}`, { token: shop.api_key })).status, 404);
});

test("tenant isolation: another tenant's key sees and changes nothing", async () => {
  const other = await gw.tenant(["other.example"]);
  for (const [m, p, body] of [
    ["GET", `/api/v1/tracking/pixels/${metaPixel.id}`],
    ["PUT", `/api/v1/tracking/pixels/${metaPixel.id}`, { is_active: false }],
    ["DELETE", `/api/v1/tracking/pixels/${metaPixel.id}`],
    ["POST", `/api/v1/tracking/pixels/${metaPixel.id}/verify`],
  ]) {
    const r = await gw.req(m, p, { token: other.api_key, body });
    assert.equal(r.status, 404, `${m} ${p}`);
  }
  const list = await gw.req("GET", "/api/v1/tracking/pixels", { token: other.api_key });
  assert.deepEqual(list.json.pixels, []);
  await gw.consent(shop, "iso-visitor", { marketing: true });
  const c = await gw.req("GET", "/api/v1/tracking/consent/iso-visitor", { token: other.api_key });
  assert.equal(c.json.consent, null, "consent of another tenant's visitor is invisible");
  const mine = await gw.req("GET", "/api/v1/tracking/consent/iso-visitor", { token: shop.api_key });
  assert.equal(mine.json.consent.marketing, true);
  // site key of one tenant is refused from the other's origin
  const cross = await gw.event(shop, { event_name: "lead" }, { origin: "https://other.example" });
  assert.equal(cross.status, 403);
  const ev = await gw.recent(other.api_key);
  assert.deepEqual(ev, []);
  const stats = await gw.req("GET", "/api/v1/tracking/events/stats", { token: other.api_key });
  assert.equal(stats.json.events_24h, 0);
});

test("consent granted: delivered to Meta with correctly hashed fields", async () => {
  await gw.consent(shop, "v-granted", { marketing: true, analytics: true });
  const r = await gw.event(shop, {
    event_id: "evt-granted-1", event_name: "purchase", visitor_id: "v-granted", event_time: now() - 5,
    url: "https://shop.example/checkout/thanks",
    user_data: { email: "  Ana.Garcia@Example.COM ", phone: "+34 612 34 56 78", first_name: "Ána", last_name: "García", country: "Spain", zip: "28001", external_id: "cust-9" },
    custom_data: { value: 129.5, currency: "eur", content_ids: ["sku-1", "sku-2"] },
    click_ids: { fbc: "fb.1.1700000000000.IwAR0abc", fbp: "fb.1.1700000000000.987654321" },
  });
  assert.equal(r.status, 202, r.text);
  assert.deepEqual({ accepted: r.json.accepted, duplicates: r.json.duplicates, rejected: r.json.rejected }, { accepted: 1, duplicates: 0, rejected: [] });
  const [sent] = await waitFor(() => metaEventsWithId("111222333", "evt-granted-1").then((a) => a.length && a), { what: "meta delivery" });
  assert.equal(sent.event_name, "Purchase");
  assert.equal(sent.action_source, "website");
  assert.equal(sent.event_source_url, "https://shop.example/checkout/thanks");
  const u = sent.user_data;
  assert.deepEqual(u.em, [sha256("ana.garcia@example.com")]);
  assert.deepEqual(u.ph, [sha256("34612345678")]);
  assert.deepEqual(u.fn, [sha256("ána")]);
  assert.deepEqual(u.ln, [sha256("garcía")]);
  assert.deepEqual(u.country, [sha256("es")]);
  assert.deepEqual(u.zp, [sha256("28001")]);
  assert.deepEqual(u.external_id, [sha256("cust-9")]);
  assert.equal(u.fbc, "fb.1.1700000000000.IwAR0abc");
  assert.equal(u.fbp, "fb.1.1700000000000.987654321");
  assert.equal(u.client_user_agent, "Mozilla/5.0 (e2e)");
  assert.deepEqual(sent.custom_data, { value: 129.5, currency: "EUR", content_ids: ["sku-1", "sku-2"] });
  const body = JSON.parse(sent._req.body);
  assert.equal(body.access_token, "EAAB-secret-token");
  assert.ok(!sent._req.path.includes("EAAB"), "token never in the URL");
  const d = await waitFor(async () => (await deliveriesOf(shop.api_key, "evt-granted-1")).find((x) => x.status === "delivered"), { what: "delivered status" });
  assert.equal(d.platform, "meta");
  assert.equal(d.attempts, 1);
  assert.match(d.trace_id, /^FAKE/);
  // stored event holds only hashes
  const stored = (await gw.recent(shop.api_key)).find((e) => e.event_id === "evt-granted-1");
  assert.ok(!JSON.stringify(stored).toLowerCase().includes("ana.garcia"));
  assert.equal(stored.user_data.em, sha256("ana.garcia@example.com"));
});

test("consent denied or missing: nothing reaches Meta", async () => {
  await gw.consent(shop, "v-denied", { marketing: false, analytics: true });
  for (const [id, visitor] of [["evt-denied", "v-denied"], ["evt-missing", "v-never-asked"]]) {
    const r = await gw.event(shop, { event_id: id, event_name: "lead", visitor_id: visitor, url: "https://shop.example/form" });
    assert.equal(r.status, 202);
    const d = await waitFor(async () => (await deliveriesOf(shop.api_key, id))[0], { what: `record of ${id}` });
    assert.equal(d.status, "skipped");
    assert.equal(d.last_error, "no marketing consent");
  }
  await sleep(1500);
  assert.equal((await metaEventsWithId("111222333", "evt-denied")).length, 0);
  assert.equal((await metaEventsWithId("111222333", "evt-missing")).length, 0);
});

test("duplicate event_id is delivered once; 20 concurrent posts too", async () => {
  await gw.consent(shop, "v-dup", { marketing: true });
  const ev = { event_id: "evt-dup-seq", event_name: "lead", visitor_id: "v-dup", url: "https://shop.example/x" };
  const a = await gw.event(shop, ev);
  const b = await gw.event(shop, ev);
  assert.equal(a.json.accepted, 1);
  assert.equal(b.json.accepted, 0);
  assert.equal(b.json.duplicates, 1);
  const burst = await Promise.all(Array.from({ length: 20 }, () => gw.event(shop, { ...ev, event_id: "evt-dup-burst" })));
  assert.ok(burst.every((r) => r.status === 202));
  assert.equal(burst.reduce((n, r) => n + r.json.accepted, 0), 1, "exactly one of 20 accepted");
  assert.equal(burst.reduce((n, r) => n + r.json.duplicates, 0), 19);
  await waitFor(() => metaEventsWithId("111222333", "evt-dup-burst").then((x) => x.length), { what: "burst delivery" });
  await sleep(2500);
  assert.equal((await metaEventsWithId("111222333", "evt-dup-seq")).length, 1);
  assert.equal((await metaEventsWithId("111222333", "evt-dup-burst")).length, 1);
});

test("upstream 500 twice then 200: delivered once with attempts = 3", async () => {
  const t = await gw.tenant(["retry.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "555000555", access_token: "tok-retry" });
  await gw.script(META_PATH("555000555"), [
    { status: 500, body: { error: { message: "An unknown error occurred", code: 1, is_transient: true } } },
    { status: 503, body: "upstream unavailable" },
  ]);
  await gw.consent(t, "v-r", { marketing: true }, "https://retry.example");
  await gw.event(t, { event_id: "evt-retry", event_name: "purchase", visitor_id: "v-r", url: "https://retry.example/" }, { origin: "https://retry.example" });
  const d = await waitFor(async () => (await deliveriesOf(t.api_key, "evt-retry")).find((x) => x.status === "delivered"), { timeout: 30_000, what: "delivery after retries" });
  assert.equal(d.attempts, 3);
  const sent = await metaEventsWithId("555000555", "evt-retry");
  assert.equal(sent.length, 3, "three attempts reached the platform");
  assert.deepEqual(sent.map((s) => s._req.answered), [500, 503, 200]);
});

test("permanent error: failed, not retried, reason kept", async () => {
  const t = await gw.tenant(["perm.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "777000777", access_token: "bad-token" });
  await gw.script(META_PATH("777000777"), [
    { status: 400, body: { error: { message: "Invalid parameter", type: "OAuthException", code: 100, error_subcode: 2804003, fbtrace_id: "TRACE100" } } },
  ]);
  await gw.consent(t, "v-p", { marketing: true }, "https://perm.example");
  await gw.event(t, { event_id: "evt-perm", event_name: "lead", visitor_id: "v-p", url: "https://perm.example/" }, { origin: "https://perm.example" });
  const d = await waitFor(async () => (await deliveriesOf(t.api_key, "evt-perm")).find((x) => x.status === "failed"), { what: "failed status" });
  assert.equal(d.attempts, 1);
  assert.match(d.last_error, /100\/2804003/);
  assert.equal(d.trace_id, "TRACE100");
  await sleep(2500);
  assert.equal((await metaEventsWithId("777000777", "evt-perm")).length, 1, "not retried");
});

test("bad input gets 400 naming the field; limits and origins enforced", async () => {
  const cases = [
    [{ event_name: "purchase", event_time: now() + 3600 }, "event_time"],
    [{ event_name: "purchase", user_data: { emial: "a@b.co" } }, "user_data.emial"],
    [{ event_name: "purchase", custom_data: { currency: "euros" } }, "custom_data.currency"],
    [{}, "event_name"],
  ];
  for (const [ev, field] of cases) {
    const r = await gw.event(shop, ev);
    assert.equal(r.status, 400, JSON.stringify(ev));
    assert.equal(r.json.error.field, field);
    assert.ok(r.json.error.message.length > 5);
  }
  const batch = await gw.event(shop, { events: [{ event_name: "lead" }, { event_name: "lead", event_time: "soon" }, { event_name: "lead" }] }, { batch: true });
  assert.equal(batch.status, 202);
  assert.equal(batch.json.accepted, 2);
  assert.deepEqual(batch.json.rejected.map((x) => [x.index, x.field]), [[1, "events[1].event_time"]]);
  const tooMany = await gw.event(shop, { events: Array.from({ length: 101 }, () => ({ event_name: "lead" })) }, { batch: true });
  assert.equal(tooMany.status, 400);
  assert.equal(tooMany.json.error.field, "events");
  const big = await gw.event(shop, { event_name: "lead", custom_data: { blob: "x".repeat(70_000) } });
  assert.equal(big.status, 413);
  const notJson = await gw.req("POST", `/api/v1/tracking/events?site_key=${shop.site_key}`, { headers: { origin: "https://shop.example", "content-type": "text/plain" }, body: "{oops" });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.error.code, "invalid_json");
  const evil = await gw.event(shop, { event_name: "lead" }, { origin: "https://evil.example" });
  assert.equal(evil.status, 403);
  const noKey = await gw.req("POST", "/api/v1/tracking/events", { body: { event_name: "lead" } });
  assert.equal(noKey.status, 401);
  const warn = await gw.event(shop, { event_name: "lead", user_data: { email: "nobody-at-example" } });
  assert.equal(warn.status, 202);
  assert.equal(warn.json.warnings[0].field, "user_data.email");
});

test("CORS preflight and text/plain beacons", async () => {
  const r = await fetch(`${gw.base}/api/v1/tracking/events?site_key=${shop.site_key}`, {
    method: "OPTIONS", headers: { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get("access-control-allow-origin"), "https://shop.example");
  assert.match(r.headers.get("access-control-allow-methods"), /POST/);
  const ok = await gw.event(shop, { event_name: "page_view", url: "https://shop.example/" });
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://shop.example");
  assert.equal(ok.json.accepted, 1);
  assert.equal(ok.json.event_ids.length, 1, "generated event id returned");
  assert.match(ok.json.event_ids[0], /^[0-9a-f-]{36}$/);
});

test("pixel.gif always answers the 43-byte GIF and records the beacon", async () => {
  const r = await fetch(`${gw.base}/pixel.gif?site_key=${shop.site_key}&event_name=page_view&event_id=gif-1`, { headers: { referer: "https://shop.example/landing" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "image/gif");
  assert.equal((await r.arrayBuffer()).byteLength, 43);
  await waitFor(async () => (await gw.recent(shop.api_key)).find((e) => e.event_id === "gif-1"), { what: "gif event stored" });
  const bad = await fetch(`${gw.base}/pixel.gif?site_key=nope`);
  assert.equal(bad.status, 200);
  assert.equal((await bad.arrayBuffer()).byteLength, 43);
});

test("the beacon is acknowledged while the platform hangs", async () => {
  const t = await gw.tenant(["hang.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "888000888", access_token: "tok" });
  await gw.script(META_PATH("888000888"), [{ status: 200, body: { events_received: 1 }, hang_ms: 5000 }], true);
  await gw.consent(t, "v-h", { marketing: true }, "https://hang.example");
  const times = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const r = await gw.event(t, { event_id: `hang-${i}`, event_name: "lead", visitor_id: "v-h", url: "https://hang.example/" }, { origin: "https://hang.example" });
    times.push(performance.now() - t0);
    assert.equal(r.status, 202);
  }
  times.sort((a, b) => a - b);
  assert.ok(times[9] < 1000, `ack p100 ${times[9]} ms while upstream hangs 5 s`);
});

test("GDPR erase removes consent, events and delivery log of a visitor", async () => {
  await gw.consent(shop, "v-erase", { marketing: true });
  await gw.event(shop, { event_id: "evt-erase", event_name: "lead", visitor_id: "v-erase", url: "https://shop.example/" });
  await waitFor(async () => (await deliveriesOf(shop.api_key, "evt-erase")).length, { what: "event stored" });
  const del = await gw.req("DELETE", "/api/v1/tracking/consent/v-erase", { token: shop.api_key });
  assert.equal(del.status, 200);
  const c = await gw.req("GET", "/api/v1/tracking/consent/v-erase", { token: shop.api_key });
  assert.equal(c.json.consent, null);
  assert.equal((await gw.recent(shop.api_key)).find((e) => e.event_id === "evt-erase"), undefined);
});

test("consent records are append-only and versioned", async () => {
  await gw.consent(shop, "v-hist", { marketing: true });
  await gw.consent(shop, "v-hist", { marketing: false });
  const c = await gw.req("GET", "/api/v1/tracking/consent/v-hist", { token: shop.api_key });
  assert.equal(c.json.consent.marketing, false);
  assert.equal(c.json.history.length, 2);
  assert.equal(c.json.history[1].marketing, true);
  const bad = await gw.req("POST", `/api/v1/tracking/consent?site_key=${shop.site_key}`, { headers: { origin: "https://shop.example" }, body: { visitor_id: "v", marketing: "yes", version: "1" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "marketing");
});

test("stats report events, success, consent and dedup rates", async () => {
  const s = await waitFor(async () => {
    const r = await gw.req("GET", "/api/v1/tracking/events/stats", { token: shop.api_key });
    return r.json.platforms.meta?.delivered >= 2 && r.json;
  }, { what: "stats" });
  assert.ok(s.events_24h >= 5);
  assert.ok(s.duplicates_24h >= 20, `duplicates ${s.duplicates_24h}`);
  assert.ok(s.dedup_rate > 0 && s.dedup_rate < 1);
  assert.ok(s.consent_rate > 0 && s.consent_rate <= 1);
  assert.equal(s.server_side_success_rate, 1);
  assert.equal(s.platforms.meta.status, "healthy");
});

test("cron retention runs in workerd", async () => {
  const r = await fetch(`${gw.base}/__scheduled?cron=15+3+*+*+*`);
  assert.equal(r.status, 200);
  await sleep(300);
  assert.match(gw.log(), /retention \(15 3 \* \* \*\)/);
});
