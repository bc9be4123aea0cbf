// Every delivery is auditable and replayable, in real workerd: an event's per-destination story
// (status, attempts, errors, trace ids, why a destination got nothing), the delivery log with
// filters and keyset pages, and replays of failed deliveries through the queue, each delivered
// exactly once, consent checked again, never what was delivered, skipped for consent or paused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sleep } from "./harness.mjs";

let gw, shop, other;
const domain = "audit.example", origin = `https://${domain}`;
const metaId = String(400000 + Math.floor(Math.random() * 500000));
const pausedMetaId = String(metaId * 1 + 1);
let meta, ga4, onlyPurchases, tiktokOff, pausedMeta, otherMeta;
const failing = ["au-1", "au-2", "au-3", "au-4", "au-5"];

const refused = { status: 400, body: { error: { message: "Invalid parameter", type: "OAuthException", code: 100, error_subcode: 2804019, fbtrace_id: "Faudit" } } };
const tokenExpired = { status: 400, body: { error: { message: "Error validating access token: Session has expired", type: "OAuthException", code: 190, error_subcode: 463, fbtrace_id: "Fexpired" } } };

const api = (method, path, key, body) => gw.req(method, path, { token: key, body });
const metaEventIds = async (pixel) => (await gw.upstream(`/v24.0/${pixel}/events`))
  .flatMap((r) => JSON.parse(r.body).data.map((e) => e.event_id));
const detail = async (id, key = shop.api_key) => api("GET", `/api/v1/tracking/events/${encodeURIComponent(id)}`, key);
const dest = (d, pixel) => d?.destinations?.find((x) => x.pixel_id === pixel.id);

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant([domain]);
  other = await gw.tenant(["other.example"]);
  meta = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: metaId, access_token: "meta-tok" });
  ga4 = await gw.pixel(shop.api_key, { platform: "google", pixel_id: "G-AUDIT1", api_secret: "ga-secret" });
  onlyPurchases = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: String(metaId * 1 + 2), access_token: "t2", event_names: ["purchase"] });
  tiktokOff = await gw.pixel(shop.api_key, { platform: "tiktok", pixel_id: "CAUDITOFF000", access_token: "tt", is_active: false });
  otherMeta = await gw.pixel(other.api_key, { platform: "meta", pixel_id: String(metaId * 1 + 3), access_token: "o" });
  // The Meta pixel refuses every event permanently (400, code 100): its deliveries fail.
  await gw.script(`/v24.0/${metaId}/events`, [refused], true);
  for (const [v, yes] of [["v-yes", true], ["v-no", false], ["v-later", true]]) {
    const r = await gw.consent(shop, v, { marketing: yes, analytics: yes }, origin);
    assert.equal(r.status, 201, r.text);
  }
  const events = [
    ...failing.map((id) => ({ event_id: id, event_name: "lead", visitor_id: "v-yes", url: `${origin}/form`, user_data: { email: "Audit.Person@Example.com" } })),
    { event_id: "au-noconsent", event_name: "lead", visitor_id: "v-no", url: `${origin}/form` },
    { event_id: "au-withdrawn", event_name: "lead", visitor_id: "v-later", url: `${origin}/form` },
  ];
  const r = await gw.event(shop, { events }, { origin, batch: true });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.accepted, events.length);
  const failedIds = [...failing, "au-withdrawn"];
  await waitFor(async () => {
    const d = await Promise.all(failedIds.map((id) => detail(id)));
    return d.every((x) => x.status === 200 && dest(x.json, meta)?.status === "failed"
      && dest(x.json, ga4)?.status === "delivered");
  }, { what: "the Meta deliveries failed and the GA4 ones delivered", timeout: 60_000 });
});
after(async () => { await gw?.stop(); });

test("an event's detail: hashed PII, per destination status, attempts, error, trace id, and why a destination got nothing", async () => {
  const r = await detail("au-1");
  assert.equal(r.status, 200, r.text);
  const d = r.json;
  assert.equal(d.event_id, "au-1");
  assert.equal(d.event_name, "lead");
  assert.equal(d.visitor_id, "v-yes");
  assert.equal(d.url, `${origin}/form`);
  assert.deepEqual(d.consent, { analytics: true, marketing: true });
  assert.ok(d.received_at > 0 && d.event_time > 0);
  const text = JSON.stringify(d).toLowerCase();
  assert.ok(!text.includes("audit.person@example.com"), "no raw email");
  assert.match(JSON.stringify(d.user_data), /[0-9a-f]{64}/, "hashed email");
  assert.ok(!("client" in d) && !text.includes('"ip"'), "no client IP");

  const m = dest(d, meta);
  assert.equal(m.platform, "meta");
  assert.equal(m.platform_pixel_id, metaId);
  assert.equal(m.status, "failed");
  assert.ok(m.attempts >= 1, JSON.stringify(m));
  assert.match(m.last_error, /Meta error 100\/2804019: Invalid parameter/);
  assert.equal(m.trace_id, "Faudit", "Meta's fbtrace_id");
  assert.match(m.response, /HTTP 400/);
  assert.ok(m.updated_at >= d.received_at);
  assert.equal(m.recorded, true);
  assert.equal(m.replays, 0);

  const g = dest(d, ga4);
  assert.equal(g.status, "delivered");
  assert.equal(g.last_error, null);

  const filtered = dest(d, onlyPurchases);
  assert.equal(filtered.status, "skipped");
  assert.equal(filtered.recorded, false);
  assert.equal(filtered.skip_reason, "event not in the pixel's event_names");
  const off = dest(d, tiktokOff);
  assert.equal(off.skip_reason, "pixel inactive");
  assert.equal(off.platform, "tiktok");

  // Consent: both destinations skipped with the reason.
  const nc = (await detail("au-noconsent")).json;
  assert.equal(dest(nc, meta).status, "skipped");
  assert.equal(dest(nc, meta).skip_reason, "no marketing consent");
  assert.equal(dest(nc, ga4).skip_reason, "no analytics consent");

  // Not the tenant's, or no such event: 404.
  assert.equal((await detail("au-1", other.api_key)).status, 404);
  assert.equal((await detail("au-nope")).status, 404);
  assert.equal((await detail("au-1", "sk_wrong")).status, 401);
  // The dashboard's own reads under events/ still answer.
  assert.equal((await api("GET", "/api/v1/tracking/events/recent", shop.api_key)).status, 200);
  assert.equal((await api("GET", "/api/v1/tracking/events/stats", shop.api_key)).status, 200);
});

test("the delivery log: filters, keyset pages with an opaque cursor, a 400 naming each bad parameter", async () => {
  const list = async (q, key = shop.api_key) => api("GET", `/api/v1/tracking/deliveries${q}`, key);
  const all = await list("");
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.next_cursor, null);
  // 7 events × 2 routed pixels (Meta, GA4).
  assert.equal(all.json.deliveries.length, 14);
  const row = all.json.deliveries.find((x) => x.event_id === "au-1" && x.pixel_id === meta.id);
  assert.deepEqual(Object.keys(row).sort(), ["attempts", "event_id", "event_name", "last_error", "pixel_id", "platform", "status", "updated_at"]);

  const failed = await list(`?status=failed&pixel_id=${meta.id}`);
  assert.deepEqual(failed.json.deliveries.map((x) => x.event_id).sort(), [...failing, "au-withdrawn"].sort());
  assert.ok(failed.json.deliveries.every((x) => x.status === "failed" && x.platform === "meta" && /Invalid parameter/.test(x.last_error)));
  assert.equal((await list("?status=failed&pixel_id=" + ga4.id)).json.deliveries.length, 0);
  assert.equal((await list("?status=sending")).json.deliveries.length, 0, "sending is a valid filter");

  // Pages of 2: every row once, newest first, the cursor opaque, the last page without one.
  const seen = [];
  let cursor = null, pages = 0;
  do {
    const r = await list(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.deliveries.length <= 2);
    seen.push(...r.json.deliveries.map((x) => `${x.event_id}/${x.pixel_id}`));
    cursor = r.json.next_cursor;
    if (cursor) assert.ok(!/^\d+$/.test(cursor), `opaque: ${cursor}`);
    pages++;
  } while (cursor && pages < 20);
  assert.equal(pages, 7);
  assert.equal(new Set(seen).size, 14);
  assert.deepEqual(seen, all.json.deliveries.map((x) => `${x.event_id}/${x.pixel_id}`));
  const p1 = await list("?status=failed&limit=4");
  assert.equal(p1.json.deliveries.length, 4);
  const p2 = await list(`?status=failed&limit=4&cursor=${p1.json.next_cursor}`);
  assert.equal(p2.json.deliveries.length, 2);
  assert.equal(p2.json.next_cursor, null);

  for (const [q, field] of [["?status=done", "status"], ["?status=FAILED", "status"], ["?limit=0", "limit"], ["?limit=201", "limit"],
    ["?limit=x", "limit"], ["?cursor=bogus", "cursor"], [`?pixel_id=${otherMeta.id}`, "pixel_id"], ["?pixel_id=nope", "pixel_id"]]) {
    const r = await list(q);
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.error.field, field, q);
  }
  assert.match((await list("?status=done")).json.error.message, /queued, sending, delivered, retrying, paused, failed, skipped/);
  assert.equal((await list("?limit=200")).status, 200);
  // Another tenant sees none of it.
  assert.deepEqual((await list("", other.api_key)).json, { deliveries: [], next_cursor: null });
});

test("replay refuses anything but exactly one valid selector, naming the field", async () => {
  const replay = (body, key = shop.api_key) => api("POST", "/api/v1/tracking/deliveries/replay", key, body);
  const cases = [
    [{}, "body"],
    [[], "body"],
    [{ status: "failed", pixel_id: meta.id }, "pixel_id"],
    [{ pixel_id: meta.id, event_ids: ["au-1"] }, "event_ids"],
    [{ status: "delivered" }, "status"],
    [{ status: "paused" }, "status"],
    [{ status: "nope" }, "status"],
    [{ pixel_id: otherMeta.id }, "pixel_id"],
    [{ pixel_id: "" }, "pixel_id"],
    [{ event_ids: [] }, "event_ids"],
    [{ event_ids: Array.from({ length: 1001 }, (_, i) => `x-${i}`) }, "event_ids"],
    [{ event_ids: ["au-1", "not valid"] }, "event_ids[1]"],
    [{ evnt_ids: ["au-1"] }, "evnt_ids"],
  ];
  for (const [body, field] of cases) {
    const r = await replay(body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.error.field, field, JSON.stringify(body).slice(0, 80));
  }
  const bad = await gw.req("POST", "/api/v1/tracking/deliveries/replay", { token: shop.api_key, body: "{not json" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "body");
  assert.equal((await replay({ status: "failed" }, "sk_wrong")).status, 401);
  // Nothing was replayed by any of it.
  const failed = await api("GET", "/api/v1/tracking/deliveries?status=failed", shop.api_key);
  assert.equal(failed.json.deliveries.length, 6);
});

test("tenant isolation: another tenant's key replays, lists and reads nothing of this tenant", async () => {
  const before = (await metaEventIds(metaId)).length;
  const r = await api("POST", "/api/v1/tracking/deliveries/replay", other.api_key, { event_ids: ["au-1", "au-2"] });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.replayed, 0);
  assert.deepEqual(r.json.not_replayed.map((x) => x.reason), ["no deliveries for this event id", "no deliveries for this event id"]);
  const all = await api("POST", "/api/v1/tracking/deliveries/replay", other.api_key, { status: "failed" });
  assert.deepEqual([all.status, all.json.replayed, all.json.remaining], [202, 0, 0]);
  await sleep(1500);
  assert.equal((await metaEventIds(metaId)).length, before, "no call for another tenant's replay");
  assert.equal((await api("GET", "/api/v1/tracking/deliveries?status=failed", shop.api_key)).json.deliveries.length, 6);
});

test("replay after the platform is fixed delivers each failed delivery exactly once, re-checking consent", async () => {
  // v-later withdraws consent after its event failed: its replay must not reach Meta.
  const w = await gw.consent(shop, "v-later", { marketing: false, analytics: false }, origin);
  assert.equal(w.status, 201, w.text);
  await gw.script(`/v24.0/${metaId}/events`, [], false); // the fake answers normally again
  const calls = (await gw.upstream(`/v24.0/${metaId}/events`)).length;
  const ga4Calls = (await gw.upstream("/mp/collect")).length;

  // Two replays at once: each failed delivery is claimed by one of them.
  const replay = () => api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, { status: "failed" });
  const [a, b] = await Promise.all([replay(), replay()]);
  assert.equal(a.status, 202, a.text);
  assert.equal(b.status, 202, b.text);
  assert.equal(a.json.replayed + b.json.replayed, 6, `${a.text} ${b.text}`);
  assert.equal(a.json.remaining, 0);
  assert.equal(b.json.remaining, 0);

  let seen;
  const d = await waitFor(async () => {
    const all = await Promise.all([...failing, "au-withdrawn"].map((id) => detail(id)));
    seen = Object.fromEntries(all.map((x) => [x.json.event_id, dest(x.json, meta)]));
    return Object.values(seen).every((x) => ["delivered", "skipped"].includes(x.status)) && seen;
  }, { what: "the replayed deliveries settled", timeout: 45_000 }).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(seen)}`);
  });
  for (const id of failing) {
    assert.equal(d[id].status, "delivered", JSON.stringify(d[id]));
    assert.equal(d[id].attempts, 1, "attempts start over");
    assert.equal(d[id].replays, 1);
    assert.ok(d[id].replayed_at > 0);
    assert.equal(d[id].last_error, null);
    assert.match(d[id].trace_id, /^FAKE/, "the new fbtrace_id");
  }
  assert.equal(d["au-withdrawn"].status, "skipped");
  assert.equal(d["au-withdrawn"].skip_reason, "consent withdrawn after the event");

  // Nothing more arrives: each replayed event reached Meta exactly once, the withdrawn one never,
  // and GA4 (delivered before) got nothing again.
  const more = await api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, { status: "failed" });
  assert.deepEqual([more.json.replayed, more.json.remaining], [0, 0]);
  const again = await api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, { event_ids: ["au-1", "au-noconsent", "au-withdrawn", "au-unknown"] });
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json.replayed, 0);
  const reasons = Object.fromEntries(again.json.not_replayed.map((x) => [`${x.event_id}/${x.pixel_id === meta.id ? "meta" : x.pixel_id === ga4.id ? "ga4" : x.pixel_id}`, x.reason]));
  assert.deepEqual(reasons, {
    "au-1/meta": "already delivered",
    "au-1/ga4": "already delivered",
    "au-noconsent/meta": "skipped for consent: never replayed",
    "au-noconsent/ga4": "skipped for consent: never replayed",
    "au-withdrawn/meta": "skipped for consent: never replayed",
    "au-withdrawn/ga4": "already delivered",
    "au-unknown/null": "no deliveries for this event id",
  });
  assert.equal(again.json.not_replayed_count, 7);
  await sleep(2500);
  const since = (await gw.upstream(`/v24.0/${metaId}/events`)).slice(calls).flatMap((r) => JSON.parse(r.body).data.map((e) => e.event_id));
  assert.deepEqual(since.sort(), [...failing].sort(), `each replayed event once, the withdrawn one never: ${since}`);
  assert.equal((await gw.upstream("/mp/collect")).length, ga4Calls, "no GA4 call");
});

test("paused deliveries are listed with the reason and never replayed; they resume through credentials", async () => {
  pausedMeta = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: pausedMetaId, access_token: "expired" });
  await gw.script(`/v24.0/${pausedMetaId}/events`, [tokenExpired], true);
  const r = await gw.event(shop, { event_id: "au-paused", event_name: "lead", visitor_id: "v-yes", url: `${origin}/x` }, { origin });
  assert.equal(r.status, 202, r.text);
  const listed = await waitFor(async () => {
    const l = await api("GET", `/api/v1/tracking/deliveries?status=paused&pixel_id=${pausedMeta.id}`, shop.api_key);
    return l.json.deliveries.length === 1 && l.json.deliveries[0];
  }, { what: "a paused delivery", timeout: 30_000 });
  assert.equal(listed.event_id, "au-paused");
  assert.match(listed.last_error, /190/);
  const calls = (await gw.upstream(`/v24.0/${pausedMetaId}/events`)).length;

  const byPixel = await api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, { pixel_id: pausedMeta.id });
  assert.deepEqual([byPixel.status, byPixel.json.replayed, byPixel.json.remaining], [202, 0, 0]);
  const byEvent = await api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, { event_ids: ["au-paused"] });
  const reason = byEvent.json.not_replayed.find((x) => x.pixel_id === pausedMeta.id).reason;
  assert.equal(reason, "paused: resumes when the pixel's credentials are updated");
  await sleep(1500);
  assert.equal((await gw.upstream(`/v24.0/${pausedMetaId}/events`)).length, calls, "no call to a paused pixel");

  // New credentials resume it (the pause's own path).
  await gw.script(`/v24.0/${pausedMetaId}/events`, [], false);
  const put = await api("PUT", `/api/v1/tracking/pixels/${pausedMeta.id}`, shop.api_key, { access_token: "fresh" });
  assert.equal(put.status, 200, put.text);
  await waitFor(async () => dest((await detail("au-paused")).json, pausedMeta).status === "delivered", { what: "the resumed delivery" });
});

test("a failed delivery its pixel no longer takes is not replayed but marked skipped with why; by event id it is, once the pixel takes it again", async () => {
  const platformId = String(metaId * 1 + 4);
  const prefix = `/v24.0/${platformId}/events`;
  const px = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: platformId, access_token: "x" });
  await gw.script(prefix, [refused], true);
  const r = await gw.event(shop, { event_id: "au-off", event_name: "lead", visitor_id: "v-yes", url: `${origin}/y` }, { origin });
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => dest((await detail("au-off")).json, px)?.status === "failed", { what: "au-off failed", timeout: 30_000 });
  assert.equal((await api("PUT", `/api/v1/tracking/pixels/${px.id}`, shop.api_key, { is_active: false })).status, 200);
  const calls = (await gw.upstream(prefix)).length;

  const replay = (body) => api("POST", "/api/v1/tracking/deliveries/replay", shop.api_key, body);
  const off = await replay({ pixel_id: px.id });
  assert.deepEqual([off.status, off.json.replayed, off.json.remaining], [202, 0, 0], off.text);
  assert.deepEqual(off.json.not_replayed, [{ event_id: "au-off", pixel_id: px.id, reason: "pixel inactive" }]);
  const d = dest((await detail("au-off")).json, px);
  assert.deepEqual([d.status, d.skip_reason], ["skipped", "not replayed: pixel inactive"]);
  const failed = await api("GET", `/api/v1/tracking/deliveries?status=failed&pixel_id=${px.id}`, shop.api_key);
  assert.equal(failed.json.deliveries.length, 0, "it left the failed list");

  await gw.script(prefix, [], false);
  assert.equal((await api("PUT", `/api/v1/tracking/pixels/${px.id}`, shop.api_key, { is_active: true })).status, 200);
  const on = await replay({ event_ids: ["au-off"] });
  assert.equal(on.status, 202, on.text);
  assert.equal(on.json.replayed, 1, on.text);
  await waitFor(async () => dest((await detail("au-off")).json, px).status === "delivered", { what: "au-off delivered" });
  await sleep(1500);
  const since = (await gw.upstream(prefix)).slice(calls).flatMap((q) => JSON.parse(q.body).data.map((e) => e.event_id));
  assert.deepEqual(since, ["au-off"]);
});
