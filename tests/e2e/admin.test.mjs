// Dashboard API, tenant security and the scheduled jobs, in real workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startGateway, waitFor, sleep, ADMIN_TOKEN } from "./harness.mjs";

let gw, shop, rival, metaPixel;
const nowS = () => Math.floor(Date.now() / 1000);
const H = 3600, DAY = 86400;
// The fake upstream's base (gw.upstream is shadowed by the harness's upstream() method).
const hookBase = () => `http://127.0.0.1:${gw.fake.port}`;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  rival = await gw.tenant(["rival.example"]);
  metaPixel = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "424242424242", access_token: "EAAB-shop-secret" });
});
after(async () => { await gw?.stop(); });

const cron = (expr, at) => gw.cron(expr, at);

const sql = (query) => gw.sql(query);

async function deliverOne(t, visitor, eventId) {
  await gw.consent(t, visitor, { marketing: true, analytics: true });
  const r = await gw.event(t, { event_id: eventId, event_name: "lead", visitor_id: visitor, url: "https://shop.example/contact", user_data: { email: "Ana@Example.com" } });
  assert.equal(r.status, 202, r.text);
  return waitFor(async () => {
    const ev = (await gw.recent(t.api_key)).find((e) => e.event_id === eventId);
    return ev?.deliveries?.some((d) => d.status === "delivered") && ev;
  }, { what: `delivery of ${eventId}` });
}

const pixelsOf = async (key) => (await gw.req("GET", "/api/v1/tracking/pixels", { token: key })).json.pixels;

test("the dashboard is served at /admin/ as static assets, with no key in it", async () => {
  const r = await fetch(`${gw.base}/admin/`);
  assert.equal(r.status, 200);
  const html = await r.text();
  assert.match(html, /pixelgate/);
  assert.match(html, /\/admin\/app\.js/);
  for (const f of ["app.js", "app.css"]) assert.equal((await fetch(`${gw.base}/admin/${f}`)).status, 200, f);
  const js = await (await fetch(`${gw.base}/admin/app.js`)).text();
  assert.match(js, /sessionStorage/);
  assert.doesNotMatch(js, /[?&](api_key|key)=/, "the key never goes into a URL");
  const bare = await fetch(`${gw.base}/admin`, { redirect: "manual" });
  assert.ok([200, 301, 302, 307, 308].includes(bare.status), `GET /admin → ${bare.status}`);
});

test("GET /api/v1/tenants/me: profile and site key, never key material", async () => {
  const r = await gw.req("GET", "/api/v1/tenants/me", { token: shop.api_key });
  assert.equal(r.status, 200);
  assert.equal(r.json.tenant_id, shop.tenant_id);
  assert.equal(r.json.site_key, shop.site_key);
  assert.deepEqual(r.json.domains, ["shop.example"]);
  assert.equal(r.json.retention_days, 90);
  assert.equal(r.json.api_key.authenticated_with, "current");
  assert.ok(!r.text.includes(shop.api_key));
  assert.doesNotMatch(r.text, /api_key_hash/);
  assert.equal((await gw.req("GET", "/api/v1/tenants/me")).status, 401);
});

test("pixel health: yellow before the first delivery, green after one, grey when inactive", async () => {
  let p = (await pixelsOf(shop.api_key)).find((x) => x.id === metaPixel.id);
  assert.equal(p.health.color, "yellow");
  assert.equal(p.health.status, "awaiting_first_event");
  await deliverOne(shop, "health-visitor", "health-ev-1");
  p = (await pixelsOf(shop.api_key)).find((x) => x.id === metaPixel.id);
  assert.equal(p.health.color, "green", JSON.stringify(p.health));
  assert.equal(p.health.delivered_24h >= 1, true);
  assert.equal(p.health.success_rate_24h, 1);
  assert.ok(p.health.last_delivered_at >= nowS() - 60);
  const one = await gw.req("GET", `/api/v1/tracking/pixels/${metaPixel.id}`, { token: shop.api_key });
  assert.equal(one.json.health.color, "green");
  assert.ok(!one.text.includes("EAAB-shop-secret"));
  const off = await gw.pixel(shop.api_key, { platform: "tiktok", pixel_id: "CABCDEFGHIJ1234567890", access_token: "tt-secret", is_active: false });
  assert.equal((await pixelsOf(shop.api_key)).find((x) => x.id === off.id).health.color, "grey");
  await gw.req("DELETE", `/api/v1/tracking/pixels/${off.id}`, { token: shop.api_key });
});

test("pixel health: only failures in 24 h is red", async () => {
  const t = await gw.tenant(["fail.example"]);
  const px = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "777000777", access_token: "tok" });
  await gw.script("/v24.0/777000777/events", [{ status: 400, body: { error: { message: "Invalid parameter", type: "OAuthException", code: 100, fbtrace_id: "X" } } }], true);
  await gw.consent(t, "fail-visitor", { marketing: true }, "https://fail.example");
  await gw.event(t, { event_id: "fail-ev-1", event_name: "lead", visitor_id: "fail-visitor" }, { origin: "https://fail.example" });
  await waitFor(async () => (await gw.recent(t.api_key)).find((e) => e.event_id === "fail-ev-1")?.deliveries?.some((d) => d.status === "failed"), { what: "failed delivery" });
  const p = (await pixelsOf(t.api_key)).find((x) => x.id === px.id);
  assert.equal(p.health.color, "red");
  assert.equal(p.health.status, "failing");
  await gw.req("DELETE", `/api/v1/tracking/pixels/${px.id}`, { token: t.api_key });
});

test("GET /api/v1/tracking/events/hourly: 48 hourly buckets per platform", async () => {
  const r = await gw.req("GET", "/api/v1/tracking/events/hourly?hours=48", { token: shop.api_key });
  assert.equal(r.status, 200);
  assert.equal(r.json.hours.length, 48);
  assert.equal(r.json.hours[47] % 3600, 0);
  assert.ok(r.json.hours[47] <= nowS() && r.json.hours[47] > nowS() - 3600);
  assert.equal(r.json.platforms.meta.delivered.length, 48);
  assert.ok(r.json.platforms.meta.delivered[47] >= 1, JSON.stringify(r.json.platforms));
  assert.ok(r.json.events[47] >= 1);
  const bad = await gw.req("GET", "/api/v1/tracking/events/hourly?hours=0", { token: shop.api_key });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "hours");
});

test("stats for the dashboard: events 24 h, success, consent and dedup rates", async () => {
  const dup = await gw.event(shop, { event_id: "health-ev-1", event_name: "lead", visitor_id: "health-visitor" });
  assert.equal(dup.json.duplicates, 1);
  // Intake counters travel through the queue: wait for the duplicate to be counted.
  const s = await waitFor(async () => {
    const r = (await gw.req("GET", "/api/v1/tracking/events/stats", { token: shop.api_key })).json;
    return r.duplicates_24h >= 1 && r;
  }, { what: "dedup counter" });
  assert.ok(s.events_24h >= 1);
  assert.equal(s.server_side_success_rate, 1);
  assert.equal(s.consent_rate, 1);
  assert.ok(s.dedup_rate > 0);
  assert.equal(s.platforms.meta.status, "healthy");
});

test("notification webhook: validated, stored, shown only by host, test message sent", async () => {
  const bad = await gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: shop.api_key, body: { webhook_url: "http://evil.example/hook" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "webhook_url");
  const hook = `${hookBase()}/hooks/slack`;
  const ok = await gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: shop.api_key, body: { webhook_url: hook } });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { webhook_set: true, webhook_host: "127.0.0.1" });
  const me = await gw.req("GET", "/api/v1/tenants/me", { token: shop.api_key });
  assert.ok(!me.text.includes("/hooks/slack"), "the webhook URL is a credential: not echoed");
  const t = await gw.req("POST", "/api/v1/tracking/settings/notifications/test", { token: shop.api_key });
  assert.equal(t.json.ok, true);
  const got = await gw.upstream("/hooks/slack");
  const body = JSON.parse(got.at(-1).body);
  assert.equal(typeof body.text, "string");
  assert.ok(Array.isArray(body.blocks));
});

test("tenant isolation: another tenant reads or changes nothing through API and dashboard endpoints", async () => {
  const k = rival.api_key;
  for (const [m, p, body] of [
    ["GET", `/api/v1/tracking/pixels/${metaPixel.id}`],
    ["PUT", `/api/v1/tracking/pixels/${metaPixel.id}`, { is_active: false }],
    ["PATCH", `/api/v1/tracking/pixels/${metaPixel.id}`, { is_active: false }],
    ["DELETE", `/api/v1/tracking/pixels/${metaPixel.id}`],
    ["POST", `/api/v1/tracking/pixels/${metaPixel.id}/verify`],
  ]) {
    assert.equal((await gw.req(m, p, { token: k, body })).status, 404, `${m} ${p}`);
  }
  assert.deepEqual(await pixelsOf(k), []);
  assert.deepEqual(await gw.recent(k), []);
  const stats = (await gw.req("GET", "/api/v1/tracking/events/stats", { token: k })).json;
  assert.equal(stats.events_24h, 0);
  assert.deepEqual(stats.platforms, {});
  const hourly = (await gw.req("GET", "/api/v1/tracking/events/hourly", { token: k })).json;
  assert.deepEqual(hourly.platforms, {});
  assert.ok(hourly.events.every((n) => n === 0));
  const c = await gw.req("GET", "/api/v1/tracking/consent/health-visitor", { token: k });
  assert.equal(c.json.consent, null);
  assert.deepEqual(c.json.history, []);
  await gw.req("DELETE", "/api/v1/tracking/consent/health-visitor", { token: k });
  const mine = await gw.req("GET", "/api/v1/tracking/consent/health-visitor", { token: shop.api_key });
  assert.equal(mine.json.consent.marketing, true, "the rival's erase did not touch the shop's visitor");
  assert.ok((await gw.recent(shop.api_key)).some((e) => e.event_id === "health-ev-1"));
  assert.equal((await gw.req("GET", "/api/v1/tracking/settings/notifications", { token: k })).json.webhook_set, false);
  const me = (await gw.req("GET", "/api/v1/tenants/me", { token: k })).json;
  assert.equal(me.tenant_id, rival.tenant_id);
  assert.notEqual(me.site_key, shop.site_key);
  // The shop's pixel is untouched.
  const p = (await pixelsOf(shop.api_key)).find((x) => x.id === metaPixel.id);
  assert.equal(p.is_active, true);
  // The rival's site key cannot post into the shop, and the shop's key only from its origins.
  const cross = await gw.event(rival, { event_name: "lead", visitor_id: "x" }, { origin: "https://shop.example" });
  assert.equal(cross.status, 403);
});

test("api key rotation without grace: the old key stops at once", async () => {
  const t = await gw.tenant(["rot.example"]);
  const r = await gw.req("POST", "/api/v1/tenants/keys/rotate", { token: t.api_key });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.api_key, /^sk_/);
  assert.notEqual(r.json.api_key, t.api_key);
  assert.equal(r.json.previous_key_valid_until, null);
  assert.equal((await gw.req("GET", "/api/v1/tracking/pixels", { token: t.api_key })).status, 401);
  assert.equal((await gw.req("GET", "/api/v1/tracking/pixels", { token: r.json.api_key })).status, 200);
  const me = (await gw.req("GET", "/api/v1/tenants/me", { token: r.json.api_key })).json;
  assert.ok(me.api_key.rotated_at >= nowS() - 60);
});

test("api key rotation with grace: previous key works until revoked, cannot rotate", async () => {
  const t = await gw.tenant(["rot2.example"]);
  const bad = await gw.req("POST", "/api/v1/tenants/keys/rotate", { token: t.api_key, body: { grace_seconds: -5 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "grace_seconds");
  const r = await gw.req("POST", "/api/v1/tenants/keys/rotate", { token: t.api_key, body: { grace_seconds: 3600 } });
  assert.equal(r.status, 200);
  assert.ok(Math.abs(r.json.previous_key_valid_until - (nowS() + 3600)) < 60);
  const old = await gw.req("GET", "/api/v1/tenants/me", { token: t.api_key });
  assert.equal(old.status, 200);
  assert.equal(old.json.api_key.authenticated_with, "previous");
  assert.equal((await gw.req("POST", "/api/v1/tenants/keys/rotate", { token: t.api_key })).status, 403);
  const rev = await gw.req("DELETE", "/api/v1/tenants/keys/previous", { token: r.json.api_key });
  assert.equal(rev.json.revoked, true);
  assert.equal((await gw.req("GET", "/api/v1/tenants/me", { token: t.api_key })).status, 401);
  assert.equal((await gw.req("GET", "/api/v1/tenants/me", { token: r.json.api_key })).status, 200);
  // A second rotation with grace replaces the previous key: the first key stays dead.
  const r2 = await gw.req("POST", "/api/v1/tenants/keys/rotate", { token: r.json.api_key, body: { grace_seconds: 60 } });
  assert.equal((await gw.req("GET", "/api/v1/tenants/me", { token: r.json.api_key })).status, 200);
  assert.equal((await gw.req("GET", "/api/v1/tenants/me", { token: t.api_key })).status, 401);
  assert.equal((await gw.req("GET", "/api/v1/tenants/me", { token: r2.json.api_key })).status, 200);
});

test("daily health check (cron 0 8 * * *): silent pixel → test event → recorded → webhook", async () => {
  const t = await gw.tenant(["quiet.example"]);
  await gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: t.api_key, body: { webhook_url: `${hookBase()}/hooks/quiet` } });
  const silent = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "555000555", access_token: "quiet-token" });
  const broken = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "555000666", access_token: "expired-token" });
  const inactive = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "555000777", access_token: "x", is_active: false });
  await gw.script("/v24.0/555000666", [{ status: 400, body: { error: { message: "Error validating access token", type: "OAuthException", code: 190 } } }], true);

  // As of now nothing is silent for 48 h: no test, no message.
  await cron("0 8 * * *");
  assert.equal((await gw.upstream("/v24.0/555000555")).length, 0);
  assert.equal((await gw.upstream("/hooks/quiet")).length, 0);
  assert.equal((await gw.upstream("/v24.0/424242424242")).filter((r) => r.method === "GET").length, 0, "a recently active pixel is not tested");

  // 49 hours later the pixels created now have been silent for more than 48 h.
  const later = nowS() + 49 * H;
  await cron("0 8 * * *", later);
  const verifyCalls = await gw.upstream("/v24.0/555000555");
  assert.equal(verifyCalls.length, 1, "the silent pixel got one platform test call");
  assert.ok(verifyCalls[0].query.access_token === "quiet-token" || verifyCalls[0].body.includes("quiet-token") || verifyCalls[0].headers.authorization?.includes("quiet-token"));
  assert.equal((await gw.upstream("/v24.0/555000666")).length, 1);
  assert.equal((await gw.upstream("/v24.0/555000777")).length, 0, "inactive pixels are not tested");
  const hooks = await gw.upstream("/hooks/quiet");
  assert.equal(hooks.length, 1, "one message per tenant");
  const msg = JSON.parse(hooks[0].body);
  assert.match(msg.text, /1 of 2 silent pixel/);
  assert.equal(msg.blocks[0].type, "header");
  assert.ok(JSON.stringify(msg.blocks).includes("555000666"));
  assert.ok(!hooks[0].body.includes("quiet-token") && !hooks[0].body.includes("expired-token"), "no credentials in notifications");

  // Recorded on the pixels, visible in the dashboard list.
  const ps = await pixelsOf(t.api_key);
  const s = ps.find((p) => p.id === silent.id), b = ps.find((p) => p.id === broken.id);
  assert.equal(s.health_check.result.ok, true);
  assert.equal(s.health_check.checked_at, later);
  assert.equal(s.health_check.result.notified.ok, true);
  assert.equal(b.health_check.result.ok, false);
  assert.equal(b.health.color, "red");
  assert.equal(b.health.status, "test_failed");
  assert.equal(ps.find((p) => p.id === inactive.id).health_check.checked_at, null);

  // Idempotent: a rerun of the same day's schedule tests nothing again.
  await cron("0 8 * * *", later + 600);
  assert.equal((await gw.upstream("/v24.0/555000555")).length, 1);
  assert.equal((await gw.upstream("/hooks/quiet")).length, 1);
});

test("retention (cron 15 3 * * *): events leave their shard after the 48 h window, consent IPs after 30 days", async () => {
  const t = await gw.tenant(["ret.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "888000888", access_token: "tok" });
  await gw.consent(t, "ret-visitor", { marketing: true }, "https://ret.example");
  await gw.req("POST", `/api/v1/tracking/events?site_key=${t.site_key}`, {
    headers: { origin: "https://ret.example", "content-type": "text/plain", "cf-connecting-ip": "198.51.100.23" },
    body: { event_id: "ret-ev-1", event_name: "lead", visitor_id: "ret-visitor", url: "https://ret.example/contact" },
  });
  await waitFor(async () => (await gw.recent(t.api_key)).find((e) => e.event_id === "ret-ev-1")?.deliveries?.some((d) => d.status === "delivered"), { what: "delivery" });
  // No row per event in D1: the event lives in its tenant's shard.
  assert.deepEqual(sql("SELECT name FROM sqlite_master WHERE name IN ('events', 'deliveries')"), []);

  await cron("15 3 * * *");
  assert.equal((await gw.recent(t.api_key)).length, 1, "inside the window the event stays");
  await cron("15 3 * * *", nowS() + 1 * DAY);
  assert.equal((await gw.recent(t.api_key)).length, 1, "a day later it is still within 48 h");
  assert.equal((await gw.req("GET", "/api/v1/tracking/events/ret-ev-1", { token: t.api_key })).status, 200);

  await cron("15 3 * * *", nowS() + 31 * DAY);
  assert.equal((await gw.recent(t.api_key)).length, 0, "past the window its day is dropped whole");
  // Its history (R2) answers for it until the tenant's retention (90 days): tests/e2e/history.test.mjs.
  const archived = await gw.req("GET", "/api/v1/tracking/events/ret-ev-1", { token: t.api_key });
  assert.equal(archived.status, 200, archived.text);
  assert.equal(archived.json.archived, true);
  await cron("15 3 * * *", nowS() + 91 * DAY);
  assert.equal((await gw.req("GET", "/api/v1/tracking/events/ret-ev-1", { token: t.api_key })).status, 404);
  const consentIps = sql(`SELECT ip FROM consent_records WHERE tenant_id = '${t.tenant_id}'`);
  assert.ok(consentIps.length > 0 && consentIps.every((r) => r.ip === null), "consent IPs go after 30 days");
});


test("failed authentications are limited per address (IPv6 /64) and per key prefix; 429 only ever answers a wrong key", async () => {
  const wrong = (prefix = "sk_") => prefix + randomBytes(32).toString("base64url").slice(0, 43 - (prefix.length - 3));
  const pixels = (token, ip) => gw.req("GET", "/api/v1/tracking/pixels", { token, headers: { "cf-connecting-ip": ip } });
  // The windows are fixed minutes: each part starts early in one, so its count is not cut in two.
  const freshWindow = async () => { const s = new Date().getUTCSeconds(); if (s > 45) await sleep((61 - s) * 1000); };
  await freshWindow();

  // Ten wrong keys from one shared egress address (an office NAT, a proxy)…
  const shared = "203.0.113.77";
  for (let i = 0; i < 10; i++) assert.equal((await pixels(wrong(), shared)).status, 401, `attempt ${i + 1}`);
  const blocked = await pixels(wrong(), shared);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.json.error.code, "rate_limited");
  const ra = Number(blocked.headers.get("retry-after"));
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
  // …do not lock out the right key, or the admin token, from that address.
  assert.equal((await pixels(shop.api_key, shared)).status, 200);
  const made = await gw.req("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, headers: { "cf-connecting-ip": shared }, body: { name: "x", domains: ["x.example"] } });
  assert.equal(made.status, 201, made.text);
  // A wrong admin token from there is still refused with 429; another address is not limited.
  assert.equal((await gw.req("POST", "/api/v1/tenants", { token: "nope", headers: { "cf-connecting-ip": shared }, body: {} })).status, 429);
  assert.equal((await pixels(wrong(), "203.0.113.78")).status, 401);

  // IPv6: a /64 is one client, whatever its interface ids.
  await freshWindow();
  for (let i = 1; i <= 10; i++) assert.equal((await pixels(wrong(), `2001:db8:1:2::${i.toString(16)}`)).status, 401);
  assert.equal((await pixels(wrong(), "2001:DB8:1:2:ffff:0:0:9")).status, 429);
  assert.equal((await pixels(wrong(), "2001:db8:1:3::1")).status, 401, "the next /64 is another client");
  assert.equal((await pixels(shop.api_key, "2001:db8:1:2::1")).status, 200);

  // Per key prefix: the same key tried from many addresses.
  await freshWindow();
  const prefix = wrong().slice(0, 12);
  for (let i = 1; i <= 10; i++) assert.equal((await pixels(wrong(prefix), `198.18.0.${i}`)).status, 401);
  assert.equal((await pixels(wrong(prefix), "198.18.0.200")).status, 429);
  assert.equal((await pixels(wrong(), "198.18.0.201")).status, 401, "other prefixes are not limited");
  // The counters live in the isolate and KV: no D1 write per failed attempt.
  assert.deepEqual(sql("SELECT name FROM sqlite_master WHERE name = 'auth_failures'"), []);
});
