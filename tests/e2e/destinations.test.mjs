// Fan-out to all four platforms in real workerd: request formats, consent gating per platform,
// error semantics (TikTok's HTTP-200 errors), verify, and isolation of a slow/failing platform.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sha256, sleep } from "./harness.mjs";

let gw;
const ORIGIN = "https://fan.example";
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

async function fourPixelTenant(domain) {
  const t = await gw.tenant([domain]);
  const ids = {
    meta: String(100000 + Math.floor(Math.random() * 899999)),
    ga4: "G-" + Math.random().toString(36).slice(2, 10).toUpperCase(),
    linkedin: String(200000 + Math.floor(Math.random() * 799999)),
    tiktok: "C" + Math.random().toString(36).slice(2, 14).toUpperCase() + "TT",
  };
  const pixels = {
    meta: await gw.pixel(t.api_key, { platform: "meta", pixel_id: ids.meta, access_token: "meta-tok" }),
    google: await gw.pixel(t.api_key, { platform: "google", pixel_id: ids.ga4, api_secret: "ga4-secret" }),
    linkedin: await gw.pixel(t.api_key, { platform: "linkedin", pixel_id: ids.linkedin, access_token: "li-tok" }),
    tiktok: await gw.pixel(t.api_key, { platform: "tiktok", pixel_id: ids.tiktok, access_token: "tt-tok" }),
  };
  return { t, ids, pixels, origin: `https://${domain}` };
}

const purchase = (id, visitor, origin) => ({
  event_id: id, event_name: "purchase", visitor_id: visitor, url: `${origin}/thanks`,
  user_data: { email: "John.Smith@gmail.com", phone: "(415) 555-2671", first_name: "John", last_name: "Smith", country: "US" },
  custom_data: { value: 59.9, currency: "USD", contents: [{ id: "sku-1", quantity: 2, item_price: 29.95 }] },
  click_ids: { ttclid: "E.C.P.abc", li_fat_id: "li-fat-123", ga_client_id: "GA1.1.555.666", ttp: "ttp-cookie" },
});

async function statusOf(apiKey, eventId) {
  const ev = (await gw.recent(apiKey)).find((e) => e.event_id === eventId);
  return Object.fromEntries((ev?.deliveries ?? []).map((d) => [d.platform, d]));
}

test("one purchase fans out to all four platforms in each platform's format", async () => {
  const { t, ids, origin } = await fourPixelTenant("fan.example");
  await gw.consent(t, "v-all", { marketing: true, analytics: true }, origin);
  const r = await gw.event(t, purchase("fan-1", "v-all", origin), { origin });
  assert.equal(r.status, 202);
  const st = await waitFor(async () => {
    const s = await statusOf(t.api_key, "fan-1");
    return ["meta", "google", "linkedin", "tiktok"].every((p) => s[p]?.status === "delivered") && s;
  }, { what: "four deliveries" });
  assert.equal(Object.keys(st).length, 4);

  const [ga] = await gw.upstream("/mp/collect");
  assert.equal(ga.query.measurement_id, ids.ga4);
  assert.equal(ga.query.api_secret, "ga4-secret");
  const gab = JSON.parse(ga.body);
  assert.equal(gab.client_id, "555.666");
  assert.deepEqual(gab.consent, { ad_user_data: "GRANTED", ad_personalization: "GRANTED" });
  assert.equal(gab.events[0].name, "purchase");
  assert.equal(gab.events[0].params.currency, "USD");
  assert.equal(gab.events[0].params.value, 59.9);
  assert.equal(gab.events[0].params.transaction_id, "fan-1");
  assert.deepEqual(gab.events[0].params.items[0].item_id, "sku-1");
  assert.deepEqual(gab.user_data.sha256_email_address, [sha256("johnsmith@gmail.com")], "Google strips gmail dots");
  assert.deepEqual(gab.user_data.sha256_phone_number, [sha256("+14155552671")]);

  const [li] = await gw.upstream("/rest/conversionEvents");
  assert.equal(li.headers["linkedin-version"], "202510");
  assert.equal(li.headers["x-restli-protocol-version"], "2.0.0");
  assert.equal(li.headers.authorization, "Bearer li-tok");
  const lib = JSON.parse(li.body);
  assert.equal(lib.conversion, `urn:lla:llaPartnerConversion:${ids.linkedin}`);
  assert.equal(lib.eventId, "fan-1");
  assert.equal(typeof lib.conversionHappenedAt, "number");
  assert.ok(lib.conversionHappenedAt > 1e12, "milliseconds");
  assert.deepEqual(lib.user.userIds, [
    { idType: "SHA256_EMAIL", idValue: sha256("john.smith@gmail.com") },
    { idType: "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", idValue: "li-fat-123" },
  ]);

  const [tt] = await gw.upstream("/open_api/v1.3/event/track/");
  assert.equal(tt.headers["access-token"], "tt-tok");
  const ttb = JSON.parse(tt.body);
  assert.equal(ttb.event_source, "web");
  assert.equal(ttb.event_source_id, ids.tiktok);
  assert.equal(ttb.data[0].event, "PlaceAnOrder");
  assert.equal(ttb.data[0].event_id, "fan-1");
  assert.equal(ttb.data[0].user.email, sha256("john.smith@gmail.com"));
  assert.equal(ttb.data[0].user.phone, sha256("+14155552671"));
  assert.equal(ttb.data[0].user.ttclid, "E.C.P.abc");

  const [meta] = await gw.upstream(`/v24.0/${ids.meta}/events`);
  assert.equal(JSON.parse(meta.body).data[0].event_name, "Purchase");
});

test("analytics-only consent: GA4 with ad signals denied, no ad platform", async () => {
  const { t, ids, origin } = await fourPixelTenant("analytics.example");
  await gw.consent(t, "v-an", { analytics: true, marketing: false }, origin);
  await gw.event(t, purchase("an-1", "v-an", origin), { origin });
  const st = await waitFor(async () => {
    const s = await statusOf(t.api_key, "an-1");
    return s.google?.status === "delivered" && s;
  }, { what: "ga4 delivery" });
  for (const p of ["meta", "linkedin", "tiktok"]) {
    assert.equal(st[p].status, "skipped", p);
    assert.equal(st[p].last_error, "no marketing consent");
  }
  const ga = (await gw.upstream("/mp/collect")).find((r) => r.query.measurement_id === ids.ga4);
  const body = JSON.parse(ga.body);
  assert.deepEqual(body.consent, { ad_user_data: "DENIED", ad_personalization: "DENIED" });
});

test("isolation: TikTok hangs and GA4 fails, Meta and LinkedIn get the event promptly, once", async () => {
  const { t, ids, origin } = await fourPixelTenant("iso.example");
  // two bad answers each; the third attempt gets the platform's normal answer
  const hang = { status: 200, body: { code: 0 }, hang_ms: 8000 };
  await gw.script("/open_api/v1.3/event/track/", [hang, hang]);
  await gw.script("/mp/collect", [{ status: 500, body: "boom" }, { status: 500, body: "boom" }]);
  await gw.consent(t, "v-iso", { marketing: true, analytics: true }, origin);
  const t0 = Date.now();
  await gw.event(t, purchase("iso-1", "v-iso", origin), { origin });
  await waitFor(async () => (await gw.upstream(`/v24.0/${ids.meta}/events`)).length, { what: "meta" });
  await waitFor(async () => (await gw.upstream("/rest/conversionEvents")).some((r) => JSON.parse(r.body).eventId === "iso-1"), { what: "linkedin" });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 4000, `meta+linkedin took ${elapsed} ms with tiktok hanging`);
  const st = await waitFor(async () => {
    const s = await statusOf(t.api_key, "iso-1");
    return s.meta?.status === "delivered" && s.linkedin?.status === "delivered" && s;
  }, { what: "statuses" });
  assert.equal(st.meta.attempts, 1);
  assert.equal(st.linkedin.attempts, 1);
  // the failing ones are being retried, not blocking
  const later = await waitFor(async () => {
    const s = await statusOf(t.api_key, "iso-1");
    return s.google?.attempts >= 2 && s.tiktok?.attempts >= 2 && s;
  }, { timeout: 20_000, what: "retries of ga4 and tiktok" });
  assert.match(later.tiktok.last_error, /timed out/);
  assert.match(later.google.last_error, /500/);
  await sleep(500);
  assert.equal((await gw.upstream(`/v24.0/${ids.meta}/events`)).length, 1, "meta exactly once");
  assert.equal((await gw.upstream("/rest/conversionEvents")).filter((r) => JSON.parse(r.body).eventId === "iso-1").length, 1, "linkedin exactly once");
  // once the platforms recover, the retries deliver (and stop, so later tests see no stragglers)
  const healed = await waitFor(async () => {
    const s = await statusOf(t.api_key, "iso-1");
    return s.google?.status === "delivered" && s.tiktok?.status === "delivered" && s;
  }, { timeout: 20_000, what: "recovery" });
  assert.equal(healed.google.attempts, 3);
  assert.equal(healed.tiktok.attempts, 3);
});

test("TikTok errors in HTTP 200: rate limit retried, bad parameter failed", async () => {
  const { t, ids, origin } = await fourPixelTenant("tt.example");
  await gw.script("/open_api/v1.3/event/track/", [
    { status: 200, body: { code: 40100, message: "Too many requests", request_id: "rl-1" } },
    { status: 200, body: { code: 0, message: "OK", request_id: "ok-2" } },
    { status: 200, body: { code: 40002, message: "Invalid param: event", request_id: "bad-3" } },
  ]);
  await gw.consent(t, "v-tt", { marketing: true }, origin);
  await gw.event(t, purchase("tt-1", "v-tt", origin), { origin });
  const d = await waitFor(async () => (await statusOf(t.api_key, "tt-1")).tiktok?.status === "delivered" && (await statusOf(t.api_key, "tt-1")).tiktok, { timeout: 90_000, what: "tiktok after rate limit" });
  assert.equal(d.trace_id, "ok-2");
  assert.equal(d.attempts, 1, "a rate-limit wait does not spend an attempt");
  await gw.event(t, purchase("tt-2", "v-tt", origin), { origin });
  const f = await waitFor(async () => (await statusOf(t.api_key, "tt-2")).tiktok?.status === "failed" && (await statusOf(t.api_key, "tt-2")).tiktok, { what: "tiktok failed" });
  assert.match(f.last_error, /40002/);
  assert.equal(f.trace_id, "bad-3");
});

test("verify: GA4 debug endpoint findings and Meta test event", async () => {
  const { t, pixels } = await fourPixelTenant("verify.example");
  await gw.script("/debug/mp/collect", [{ status: 200, body: { validationMessages: [{ fieldPath: "events[0].name", description: "Event name is reserved", validationCode: "NAME_RESERVED" }] } }]);
  const ga = await gw.req("POST", `/api/v1/tracking/pixels/${pixels.google.id}/verify`, { token: t.api_key });
  assert.equal(ga.status, 200);
  assert.equal(ga.json.ok, false);
  assert.match(ga.json.findings[0], /NAME_RESERVED/);
  const ga2 = await gw.req("POST", `/api/v1/tracking/pixels/${pixels.google.id}/verify`, { token: t.api_key });
  assert.equal(ga2.json.ok, true);
  const meta = await gw.req("POST", `/api/v1/tracking/pixels/${pixels.meta.id}/verify`, { token: t.api_key });
  assert.equal(meta.json.ok, true);
  assert.equal(meta.json.http_status, 200);
  const li = await gw.req("POST", `/api/v1/tracking/pixels/${pixels.linkedin.id}/verify`, { token: t.api_key });
  assert.equal(li.json.ok, true);
  const stored = await gw.req("GET", `/api/v1/tracking/pixels/${pixels.google.id}`, { token: t.api_key });
  assert.equal(stored.json.last_verify_result.ok, true);
});

test("LinkedIn conversion rules get conversions, not page views", async () => {
  const { t, origin } = await fourPixelTenant("li.example");
  await gw.consent(t, "v-li", { marketing: true, analytics: true }, origin);
  await gw.event(t, { event_id: "li-pv", event_name: "page_view", visitor_id: "v-li", url: `${origin}/` }, { origin });
  const st = await waitFor(async () => { const s = await statusOf(t.api_key, "li-pv"); return s.meta?.status === "delivered" && s; }, { what: "pv" });
  assert.equal(st.linkedin, undefined, "no LinkedIn delivery row for a page view");
});

test("LinkedIn: 429 waits and retries, 401 pauses the pixel without retry", async () => {
  const { t, origin } = await fourPixelTenant("li-err.example");
  await gw.script("/rest/conversionEvents", [
    { status: 429, body: { status: 429, message: "Resource level throttle limit exceeded" } },
    { status: 201, body: "" },
    { status: 401, body: { status: 401, serviceErrorCode: 65600, code: "INVALID_ACCESS_TOKEN", message: "Invalid access token" } },
  ]);
  await gw.consent(t, "v-le", { marketing: true }, origin);
  await gw.event(t, purchase("le-1", "v-le", origin), { origin });
  const ok = await waitFor(async () => { const s = await statusOf(t.api_key, "le-1"); return s.linkedin?.status === "delivered" && s.linkedin; }, { what: "linkedin after 429" });
  assert.equal(ok.attempts, 1, "the throttled try is not an attempt");
  await gw.event(t, purchase("le-2", "v-le", origin), { origin });
  // A refused token is the pixel's problem, not the event's: its deliveries pause until new
  // credentials arrive.
  const bad = await waitFor(async () => { const s = await statusOf(t.api_key, "le-2"); return s.linkedin?.status === "paused" && s.linkedin; }, { what: "linkedin 401" });
  assert.match(bad.last_error, /401|token/i);
  await sleep(2500);
  const sent = (await gw.upstream("/rest/conversionEvents")).filter((r) => JSON.parse(r.body).eventId === "le-2");
  assert.equal(sent.length, 1, "401 is not retried");
});
