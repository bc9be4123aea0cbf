// Admission control of the public writes in real workerd: the rate limits per tenant and client
// network (the Rate Limiting bindings, with limits set low here), the daily quota per tenant,
// the refusals in the stats, the size cap of what an event stores, and the retention job of every
// table this gateway keeps beyond events.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sleep, ADMIN_TOKEN, sha256 } from "./harness.mjs";

// Requests per 10 s: per tenant and client network (browsers), and per tenant.
const NETWORK_LIMIT = 6, TENANT_LIMIT = 15;
let gw;

before(async () => {
  gw = await startGateway({}, { rateLimits: { NETWORK_RATE_LIMITER: NETWORK_LIMIT, TENANT_RATE_LIMITER: TENANT_LIMIT } });
});
after(async () => { await gw?.stop(); });

const sql = (query) => gw.sql(query);

/** A browser event from `ip` on `site`. */
const browserEvent = (t, site, ip, ev = {}) => gw.req("POST", `/api/v1/tracking/events?site_key=${t.site_key}`,
  { headers: { origin: `https://${site}`, "content-type": "text/plain", "user-agent": "Mozilla/5.0 (e2e)", "cf-connecting-ip": ip },
    body: { event_name: "page_view", url: `https://${site}/`, ...ev } });

/** Waits for the start of a fresh 10-second window of the limiters, so a burst falls in one. */
async function freshWindow() {
  const into = Date.now() % 10_000;
  if (into > 1_000) await sleep(10_000 - into + 50);
}

const stats = async (t) => (await gw.req("GET", "/api/v1/tracking/events/stats", { token: t.api_key })).json;

test("a burst from one network gets 429 with Retry-After naming the limit; another network, another tenant and pixel.gif's answer are unaffected", async () => {
  const a = await gw.tenant(["a.example"]);
  const b = await gw.tenant(["b.example"]);
  await freshWindow();
  const answers = [];
  for (let i = 0; i < NETWORK_LIMIT + 4; i++) answers.push(await browserEvent(a, "a.example", "198.51.100.7", { event_id: `burst-${i}` }));
  const codes = answers.map((r) => r.status);
  assert.deepEqual(codes.slice(0, NETWORK_LIMIT), Array(NETWORK_LIMIT).fill(202), codes.join());
  const refused = answers.slice(NETWORK_LIMIT);
  for (const r of refused) {
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, "rate_limited");
    assert.match(r.json.error.message, /per-network rate limit/);
    const wait = Number(r.headers.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 10, `Retry-After ${wait}`);
    // A browser on the site can read the refusal (CORS), to back off.
    assert.equal(r.headers.get("access-control-allow-origin"), "https://a.example");
  }
  // The same network to another tenant, and another network to the same tenant: accepted.
  assert.equal((await browserEvent(b, "b.example", "198.51.100.7")).status, 202);
  assert.equal((await browserEvent(a, "a.example", "198.51.100.8")).status, 202);
  // A consent choice from the limited network is refused too; pixel.gif still answers its GIF.
  const consent = await gw.req("POST", `/api/v1/tracking/consent?site_key=${a.site_key}`, { headers: { origin: "https://a.example", "content-type": "text/plain", "cf-connecting-ip": "198.51.100.7" },
    body: { visitor_id: "v-limited", version: "1", analytics: true, marketing: true } });
  assert.equal(consent.status, 429, consent.text);
  const gif = await fetch(`${gw.base}/pixel.gif?site_key=${a.site_key}&event_name=lead&event_id=gif-over-limit`, { headers: { referer: "https://a.example/x", "cf-connecting-ip": "198.51.100.7" } });
  assert.equal(gif.status, 200);
  assert.equal(gif.headers.get("content-type"), "image/gif");
  assert.equal((await gif.arrayBuffer()).byteLength, 43);

  // Nothing of the refused requests was recorded; the accepted ones were.
  await waitFor(async () => (await gw.req("GET", "/api/v1/tracking/events/burst-0", { token: a.api_key })).status === 200, { what: "burst-0 stored" });
  for (const id of [`burst-${NETWORK_LIMIT}`, "gif-over-limit"]) {
    assert.equal((await gw.req("GET", `/api/v1/tracking/events/${id}`, { token: a.api_key })).status, 404, id);
  }
  assert.equal((await gw.req("GET", "/api/v1/tracking/consent/v-limited", { token: a.api_key })).json.consent, null);

  // The refusals are counted per tenant in the stats (within ~20 s: counted in the isolate, then flushed).
  const seen = await waitFor(async () => {
    const s = await stats(a);
    return s.rate_limited_today >= refused.length + 2 && s;
  }, { timeout: 45_000, what: "rate_limited in the stats" });
  assert.equal(seen.over_quota_today, 0);
  assert.equal((await stats(b)).rate_limited_today, 0, "the other tenant has none");
});

test("the tenant rate limit holds across networks, for servers too; another tenant is unaffected", async () => {
  const c = await gw.tenant(["c.example"]);
  const d = await gw.tenant(["d.example"]);
  await freshWindow();
  const codes = [];
  for (let i = 0; i < TENANT_LIMIT + 3; i++) {
    // Every request from its own network: only the tenant's limit applies.
    const r = i % 2 ? await browserEvent(c, "c.example", `203.0.113.${i + 1}`)
      : await gw.req("POST", "/api/v1/tracking/events", { token: c.ingest_key, body: { event_name: "lead" } });
    codes.push(r.status);
    if (r.status === 429) assert.match(r.json.error.message, /tenant rate limit/);
  }
  assert.deepEqual(codes.slice(0, TENANT_LIMIT), Array(TENANT_LIMIT).fill(202), codes.join());
  assert.deepEqual(codes.slice(TENANT_LIMIT), [429, 429, 429]);
  assert.equal((await browserEvent(d, "d.example", "203.0.113.1")).status, 202);
});

test("a tenant's daily quota (set by the operator) refuses writes past it with 429 over_quota until 00:00 UTC; other tenants are unaffected", async () => {
  const e = await gw.tenant(["e.example"]);
  const f = await gw.tenant(["f.example"]);
  const put = (id, body, token = ADMIN_TOKEN) => gw.req("PUT", `/api/v1/admin/tenants/${id}/quota`, { token, body });
  for (const bad of [{ daily_quota: 0 }, { daily_quota: "10" }, { daily_quota: 1.5 }, {}]) {
    const r = await put(e.tenant_id, bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.json.error.field, "daily_quota");
  }
  assert.equal((await put(e.tenant_id, { daily_quota: 4 }, e.api_key)).status, 401, "the operator's, not the tenant's");
  assert.equal((await put("no-such-tenant", { daily_quota: 4 })).status, 404);
  const set = await put(e.tenant_id, { daily_quota: 4 });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual([set.json.daily_quota, set.json.default], [4, false]);

  // Three events and a consent choice are the four writes of the day (from different networks).
  for (let i = 0; i < 3; i++) assert.equal((await browserEvent(e, "e.example", `192.0.2.${10 + i}`, { event_id: `q-${i}` })).status, 202);
  assert.equal((await gw.consent(e, "v-quota", { analytics: true }, "https://e.example")).status, 201);
  const over = await browserEvent(e, "e.example", "192.0.2.50", { event_id: "q-over" });
  assert.equal(over.status, 429, over.text);
  assert.equal(over.json.error.code, "over_quota");
  assert.match(over.json.error.message, /daily quota of 4/);
  const midnight = 86400 - (Math.floor(Date.now() / 1000) % 86400);
  assert.ok(Math.abs(Number(over.headers.get("retry-after")) - midnight) <= 5, over.headers.get("retry-after"));
  const server = await gw.req("POST", "/api/v1/tracking/events", { token: e.api_key, body: { event_name: "lead", event_id: "q-server" } });
  assert.equal(server.status, 429, "the quota is the tenant's, whoever sends");
  assert.equal((await browserEvent(f, "f.example", "192.0.2.50")).status, 202, "another tenant is unaffected");

  const s = await waitFor(async () => { const s = await stats(e); return s.over_quota_today >= 2 && s; }, { timeout: 45_000, what: "over_quota in the stats" });
  assert.equal(s.daily_quota, 4);
  assert.equal(s.writes_today, 4);
  // A CRM conversion is a write of the day too, taken by the other Worker: refused before
  // anything is stored.
  const conversion = await gw.req("POST", "/api/v1/conversions", { token: e.api_key,
    body: { conversion_id: "q-deal", name: "purchase", happened_at: new Date().toISOString(), value: 10, currency: "EUR", source: "crm" } });
  assert.equal(conversion.status, 429, conversion.text);
  assert.equal(conversion.json.error.code, "over_quota");
  const listed = await gw.req("GET", "/api/v1/conversions", { token: e.api_key });
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.json.conversions.length, 0, listed.text);

  // The operator raises it: writes go through again.
  assert.equal((await put(e.tenant_id, { daily_quota: null })).json.daily_quota, 1_000_000);
  assert.equal((await browserEvent(e, "e.example", "192.0.2.51")).status, 202);
});

test("what one event may store is capped, and the error names the field", async () => {
  const g = await gw.tenant(["g.example"]);
  const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "x".repeat(300)]));
  const r = await browserEvent(g, "g.example", "192.0.2.60", { custom_data: big });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.field, "custom_data");
  assert.match(r.json.error.message, /8 KB/);
  const utm = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]));
  const u = await browserEvent(g, "g.example", "192.0.2.60", { utm });
  assert.equal(u.json.error.field, "utm");
});

test("the retention job gives every table a rule: consent evidence 3 years after the last choice, the erasure audit as long, expired OAuth flows, old usage", async () => {
  const h = await gw.tenant(["h.example"]);
  await gw.consent(h, "v-old", { analytics: true }, "https://h.example");
  await gw.consent(h, "v-kept", { analytics: true }, "https://h.example");
  await gw.req("DELETE", "/api/v1/tracking/consent/v-erased", { token: h.api_key });
  await browserEvent(h, "h.example", "192.0.2.70");
  const now = Math.floor(Date.now() / 1000);
  const history = async (v) => (await gw.req("GET", `/api/v1/tracking/consent/${v}`, { token: h.api_key })).json.history.length;
  assert.equal(await history("v-old"), 1);
  // v-kept chooses again "two years later": its evidence is younger than 3 years at the run.
  sql(`UPDATE consent_records SET created_at = created_at + ${2 * 365 * 86400} WHERE tenant_id = '${h.tenant_id}' AND visitor_id = 'v-kept'`);
  sql(`INSERT INTO tenant_usage (tenant_id, day, writes) VALUES ('${h.tenant_id}', ${now - (now % 86400)}, 3)`);

  const at = now + 3 * 365 * 86400 + 86400;
  const q = new URLSearchParams({ cron: "15 3 * * *", time: String(at * 1000) });
  const r = await fetch(`${gw.base}/cdn-cgi/local/scheduled?${q}`);
  assert.equal(r.status, 200, await r.text());
  await waitFor(async () => (await history("v-old")) === 0, { what: "v-old's evidence purged" });
  assert.equal(await history("v-kept"), 1, "a visitor whose last choice is younger keeps all of it");
  assert.equal(await history("v-erased"), 0, "the erasure record goes with it");
  assert.deepEqual(sql(`SELECT visitor_hash FROM erasure_audit WHERE tenant_id = '${h.tenant_id}'`), [], `erasure audit of ${sha256("v-erased")} purged`);
  assert.deepEqual(sql(`SELECT day FROM tenant_usage WHERE tenant_id = '${h.tenant_id}'`), []);
});
