// Keys in real workerd: the ingest key's scope, the site key's rotation with a grace period, and
// the token encryption key's rotation (old ciphertexts still open; the re-encrypt job moves them;
// each is bound to its row), across redeploys of both Workers on the same storage.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sleep, ADMIN_TOKEN } from "./harness.mjs";

const K1 = Buffer.alloc(32, 11).toString("base64"), K2 = Buffer.alloc(32, 22).toString("base64");
let gw;

// The encryption keys have ids from the start: k1 alone.
before(async () => { gw = await startGateway({ TOKEN_ENCRYPTION_KEY: "", TOKEN_ENCRYPTION_KEYS: `k1:${K1}` }); });
after(async () => { await gw?.stop(); });

const sql = (query) => gw.sql(query);

test("an ingest key sends events, conversions and consent choices, and nothing else (403 naming its scope)", async () => {
  const t = await gw.tenant(["ingest.example"]);
  assert.match(t.ingest_key, /^ik_[A-Za-z0-9_-]{43}$/);
  assert.match(t.api_key, /^sk_/);
  const ik = t.ingest_key;
  const ev = await gw.req("POST", "/api/v1/tracking/events", { token: ik, body: { event_name: "lead", consent: { analytics: true, marketing: true } } });
  assert.equal(ev.status, 202, ev.text);
  const batch = await gw.req("POST", "/api/v1/tracking/events/batch", { token: ik, body: { events: [{ event_name: "lead" }] } });
  assert.equal(batch.status, 202, batch.text);
  const consent = await gw.req("POST", "/api/v1/tracking/consent", { token: ik, body: { visitor_id: "v-ik", version: "1", analytics: true, marketing: false } });
  assert.equal(consent.status, 201, consent.text);
  const conversion = await gw.req("POST", "/api/v1/conversions", { token: ik, body: { conversion_id: "deal-ik", name: "purchase", happened_at: Math.floor(Date.now() / 1000) - 60 } });
  assert.equal(conversion.status, 202, conversion.text);
  assert.equal(conversion.json.accepted, 1);

  for (const [method, path, body] of [
    ["POST", "/api/v1/tracking/pixels", { platform: "meta", pixel_id: "123456789", access_token: "x" }],
    ["GET", "/api/v1/tracking/pixels"],
    ["GET", "/api/v1/tracking/settings"],
    ["PUT", "/api/v1/tracking/settings", { consent_policy: {} }],
    ["GET", "/api/v1/tracking/consent/v-ik"],
    ["DELETE", "/api/v1/tracking/consent/v-ik"],
    ["GET", "/api/v1/tracking/events/stats"],
    ["GET", "/api/v1/tracking/deliveries"],
    ["POST", "/api/v1/tracking/deliveries/replay", { status: "failed" }],
    ["GET", "/api/v1/tenants/me"],
    ["POST", "/api/v1/tenants/keys/rotate", {}],
    ["POST", "/api/v1/tenants/keys/ingest", {}],
    ["POST", "/api/v1/tracking/settings/site-key/rotate", {}],
    ["GET", "/api/v1/ads/oauth/meta/start"],
    ["GET", "/api/v1/conversions"],
    ["GET", "/api/v1/integrations"],
    ["PUT", "/api/v1/integrations/stripe", { webhook_secret: "whsec_x" }],
    ["GET", "/api/v1/attribution/settings"],
  ]) {
    const r = await gw.req(method, path, { token: ik, body });
    assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
    assert.equal(r.json.error.code, "insufficient_scope");
    assert.equal(r.json.error.field, "authorization");
    assert.match(r.json.error.message, /ingest scope.*admin scope/);
  }
  // The api key still does everything.
  assert.equal((await gw.req("GET", "/api/v1/tracking/consent/v-ik", { token: t.api_key })).status, 200);

  // A new ingest key (from the api key); with a grace period the old one keeps working until it ends.
  const minted = await gw.req("POST", "/api/v1/tenants/keys/ingest", { token: t.api_key, body: { grace_seconds: 2 } });
  assert.equal(minted.status, 200, minted.text);
  assert.notEqual(minted.json.ingest_key, ik);
  const send = (key) => gw.req("POST", "/api/v1/tracking/events", { token: key, body: { event_name: "lead" } });
  assert.equal((await send(minted.json.ingest_key)).status, 202);
  assert.equal((await send(ik)).status, 202, "the old one during its grace");
  await sleep(2500);
  assert.equal((await send(ik)).status, 401, "and not after");
  const me = await gw.req("GET", "/api/v1/tenants/me", { token: t.api_key });
  assert.equal(me.json.ingest_key.set, true);
});

test("a rotated site key works at once; the old one works until its grace period ends", async () => {
  const t = await gw.tenant(["rotate.example"]);
  const site = { origin: "https://rotate.example", "content-type": "text/plain" };
  const send = (key) => gw.req("POST", `/api/v1/tracking/events?site_key=${key}`, { headers: site, body: { event_name: "page_view" } });
  assert.equal((await send(t.site_key)).status, 202, "the old key, cached at the edge");
  const bad = await gw.req("POST", "/api/v1/tracking/settings/site-key/rotate", { token: t.api_key, body: { grace_seconds: -5 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "grace_seconds");
  const rot = await gw.req("POST", "/api/v1/tracking/settings/site-key/rotate", { token: t.api_key, body: { grace_seconds: 4 } });
  assert.equal(rot.status, 200, rot.text);
  const fresh = rot.json.site_key;
  assert.match(fresh, /^pk_/);
  assert.notEqual(fresh, t.site_key);
  assert.equal((await send(fresh)).status, 202);
  assert.equal((await send(t.site_key)).status, 202, "pages with the old tag keep working");
  const id = await gw.req("GET", `/api/v1/tracking/id?site_key=${t.site_key}`, { headers: site });
  assert.equal(id.status, 200);
  const me = await gw.req("GET", "/api/v1/tenants/me", { token: t.api_key });
  assert.equal(me.json.site_key, fresh);
  assert.ok(me.json.previous_site_key_valid_until > Date.now() / 1000);
  await sleep(4500);
  const late = await send(t.site_key);
  assert.equal(late.status, 401, late.text);
  assert.equal(late.json.error.field, "site_key");
  assert.equal((await send(fresh)).status, 202);
  // Without a body the grace is a day.
  const day = await gw.req("POST", "/api/v1/tracking/settings/site-key/rotate", { token: t.api_key, body: {} });
  assert.ok(Math.abs(day.json.previous_site_key_valid_until - (Date.now() / 1000 + 86400)) < 60);
});

test("a rotated encryption key still decrypts old tokens, the re-encrypt job moves them, and a ciphertext opens only in its own row", async () => {
  const t = await gw.tenant(["enc.example"]);
  const metaId = String(700000 + Math.floor(Math.random() * 99999));
  const pixel = await gw.pixel(t.api_key, { platform: "meta", pixel_id: metaId, access_token: "tok-rotation" });
  const other = await gw.pixel(t.api_key, { platform: "meta", pixel_id: String(Number(metaId) + 1), access_token: "tok-other" });
  const sealed = () => sql(`SELECT access_token_enc FROM pixels WHERE id = '${pixel.id}'`)[0].access_token_enc;
  assert.match(sealed(), /^v2:k1:/);
  assert.ok(!sealed().includes("tok-rotation"));
  // The visitor's browser, signed under k1.
  const first = await gw.consent(t, "v-enc", { marketing: true, analytics: true }, "https://enc.example");
  const vsig = first.headers.getSetCookie().map((c) => c.split(";")[0]).find((c) => c.startsWith("pg_vsig="));
  let n = 0;
  const deliveredWith = async () => {
    const id = `enc-${++n}`;
    const r = await gw.event(t, { event_id: id, event_name: "lead", visitor_id: "v-enc", url: "https://enc.example/x" }, { origin: "https://enc.example" });
    assert.equal(r.status, 202, r.text);
    const req = await waitFor(async () => (await gw.upstream(`/v24.0/${metaId}/events`)).find((q) => JSON.parse(q.body).data.some((d) => d.event_id === id)), { what: id });
    return JSON.parse(req.body).access_token;
  };
  assert.equal(await deliveredWith(), "tok-rotation");

  // Redeploy with a new current key; the old one stays configured.
  await gw.restart({ TOKEN_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}` });
  assert.equal(await deliveredWith(), "tok-rotation", "the old ciphertext still opens");
  const own = await gw.req("GET", "/api/v1/tracking/consent/v-enc?site_key=" + t.site_key, { headers: { origin: "https://enc.example", cookie: `pg_vid=v-enc; ${vsig}` } });
  assert.equal(own.status, 200, "a visitor signature made under k1 still proves the visitor");
  // New secrets are sealed with k2.
  await gw.req("PUT", `/api/v1/tracking/pixels/${other.id}`, { token: t.api_key, body: { access_token: "tok-other-2" } });
  assert.match(sql(`SELECT access_token_enc FROM pixels WHERE id = '${other.id}'`)[0].access_token_enc, /^v2:k2:/);

  assert.equal((await gw.req("POST", "/api/v1/admin/reencrypt", { token: t.api_key })).status, 401, "the operator's endpoint");
  const moved = await gw.req("POST", "/api/v1/admin/reencrypt", { token: ADMIN_TOKEN });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.current_key, "k2");
  assert.ok(moved.json.pixels >= 1, moved.text);
  assert.equal(moved.json.unreadable, 0);
  assert.match(sealed(), /^v2:k2:/);
  const again = await gw.req("POST", "/api/v1/admin/reencrypt", { token: ADMIN_TOKEN });
  assert.deepEqual([again.json.pixels, again.json.ads_accounts], [0, 0], "nothing left to move");

  // The old key is gone: what was moved still opens.
  await gw.restart({ TOKEN_ENCRYPTION_KEYS: `k2:${K2}` });
  assert.equal(await deliveredWith(), "tok-rotation");

  // A ciphertext copied into another row (another pixel) does not open there.
  sql(`UPDATE pixels SET access_token_enc = '${sealed()}' WHERE id = '${other.id}'`);
  const v = await gw.req("POST", `/api/v1/tracking/pixels/${other.id}/verify`, { token: t.api_key });
  assert.equal(v.status, 500, v.text);
  assert.equal(v.json.error.code, "secret_unreadable");
  assert.ok(!v.text.includes("tok-rotation"));
});
