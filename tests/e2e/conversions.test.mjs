// Conversions beyond the browser in real workerd against the fake platforms: offline/CRM
// conversions to Meta and Google Ads (per-row partial failures), the Stripe webhook (signatures,
// replays, refunds, zero-decimal currencies), Meta Lead Ads (handshake, signed notification, the
// lead fetched, forwarded and counted) and the attribution report under every model.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startGateway, waitFor, sha256 } from "./harness.mjs";

let gw;
const META_APP_SECRET = "fake-meta-secret";
const VERIFY_TOKEN = "verify-me-123";
const NOW = () => Math.floor(Date.now() / 1000);
const DAY = 86400;

before(async () => { gw = await startGateway({ META_WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN }); });
after(async () => { await gw?.stop(); });

const form = (fields) => ({ "content-type": "application/x-www-form-urlencoded", ...fields });

/** Connects the tenant's Google Ads account (the fake grants customers/2222222222). */
async function connectGoogle(apiKey) {
  const start = await gw.req("GET", "/api/v1/ads/oauth/google/start", { token: apiKey });
  assert.equal(start.status, 200, start.text);
  const cookie = start.headers.getSetCookie().find((c) => /pg_oauth_/.test(c)).split(";")[0];
  const state = new URL(start.json.authorize_url).searchParams.get("state");
  const page = await gw.req("GET", `/api/v1/ads/oauth/google/callback?code=authcode&state=${encodeURIComponent(state)}`, { headers: { cookie } });
  assert.equal(page.status, 200, page.text);
  const cb = await gw.req("POST", "/api/v1/ads/oauth/google/confirm", { headers: form({ cookie }), body: new URLSearchParams({ state, code: "authcode" }).toString() });
  assert.ok(cb.status < 400, cb.text);
}

async function connectMeta(apiKey, account) {
  const start = await gw.req("GET", `/api/v1/ads/oauth/meta/start?account_id=${account}`, { token: apiKey });
  const cookie = start.headers.getSetCookie().find((c) => /pg_oauth_/.test(c)).split(";")[0];
  const state = new URL(start.json.authorize_url).searchParams.get("state");
  await gw.req("GET", `/api/v1/ads/oauth/meta/callback?code=authcode&state=${encodeURIComponent(state)}`, { headers: { cookie } });
  const cb = await gw.req("POST", "/api/v1/ads/oauth/meta/confirm", { headers: form({ cookie }), body: new URLSearchParams({ state, code: "authcode" }).toString() });
  assert.ok(cb.status < 400, cb.text);
}

async function conversions(apiKey, query = "") {
  const r = await gw.req("GET", `/api/v1/conversions${query}`, { token: apiKey });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const byId = (list, id) => list.conversions.find((c) => c.conversion_id === id);

/** The fake's recorded requests under `prefix`, once there is one. */
const requests = (prefix, what) => waitFor(async () => {
  const calls = await gw.upstream(prefix);
  return calls.length > 0 && calls;
}, { what });

test("a CRM won deal reaches Meta as system_generated and Google Ads as a well-formed uploadClickConversions; old and repeated conversions", async () => {
  const t = await gw.tenant(["crm.example"]);
  await connectGoogle(t.api_key);
  const meta = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "5550001", access_token: "meta-tok" });
  const gads = await gw.pixel(t.api_key, { platform: "google_ads", pixel_id: "222-222-2222",
    settings: { conversion_actions: { purchase: "111", qualified_lead: "customers/2222222222/conversionActions/222" }, time_zone: "Europe/Madrid" } });
  assert.equal(gads.pixel_id, "2222222222");
  assert.deepEqual(gads.event_names, ["purchase", "qualified_lead"]);
  assert.equal(gads.has_access_token, false, "no secret is stored with a google_ads pixel");

  const won = {
    conversion_id: "deal-42", name: "purchase", happened_at: new Date((NOW() - 2 * DAY) * 1000).toISOString(),
    value: 1200.5, currency: "eur", order_id: "SO-9", source: "crm", crm_name: "HubSpot",
    user_data: { email: "John.Doe@gmail.com", phone: "+34 612 34 56 78", meta_lead_id: "1234567890123456" },
    click_ids: { gclid: "Cj0KCQ-test" }, consent: { marketing: true, analytics: false },
  };
  const old = { ...won, conversion_id: "deal-old", happened_at: NOW() - 20 * DAY, user_data: { email: "old@example.com" }, click_ids: { gclid: "Cj0-old" } };
  const bad = { conversion_id: "deal-bad", name: "purchase", happened_at: "last tuesday" };
  const r = await gw.req("POST", "/api/v1/conversions/batch", { token: t.api_key, body: { conversions: [won, bad, old] } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.accepted, 2);
  assert.deepEqual(r.json.rejected.map((x) => [x.index, x.field]), [[1, "conversions[1].happened_at"]]);

  const [m] = await requests("/v24.0/5550001/events", "the Meta request");
  const mev = JSON.parse(m.body).data;
  assert.equal(mev.length, 1, "the 20-day-old conversion is outside Meta's 7-day CRM window");
  assert.equal(mev[0].action_source, "system_generated");
  assert.equal(mev[0].event_id, "deal-42");
  assert.equal(mev[0].user_data.lead_id, 1234567890123456);
  assert.deepEqual(mev[0].custom_data, { value: 1200.5, currency: "EUR", order_id: "SO-9", event_source: "crm", lead_event_source: "HubSpot" });
  assert.equal(mev[0].event_source_url, undefined);

  // Google's window is 90 days: both go (in one upload or two, as the queue batches them).
  const uploads = await waitFor(async () => {
    const calls = await gw.upstream("/v22/customers/2222222222:uploadClickConversions");
    return calls.flatMap((c) => JSON.parse(c.body).conversions).length === 2 && calls;
  }, { what: "the Google Ads uploads" });
  for (const g of uploads) {
    assert.equal(g.headers["developer-token"], "fake-dev-token");
    assert.match(g.headers.authorization, /^Bearer ya29\.fake-/);
    assert.equal(JSON.parse(g.body).partialFailure, true);
  }
  const row = uploads.flatMap((c) => JSON.parse(c.body).conversions).find((c) => c.gclid === "Cj0KCQ-test");
  assert.equal(row.conversionAction, "customers/2222222222/conversionActions/111");
  assert.match(row.conversionDateTime, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]0[12]:00$/, "Madrid's offset");
  assert.equal(row.conversionValue, 1200.5);
  assert.equal(row.currencyCode, "EUR");
  assert.deepEqual(row.userIdentifiers, [{ hashedEmail: sha256("johndoe@gmail.com") }, { hashedPhoneNumber: sha256("+34612345678") }]);
  assert.deepEqual(row.consent, { adUserData: "GRANTED", adPersonalization: "GRANTED" });

  const list = await waitFor(async () => {
    const l = await conversions(t.api_key);
    const a = byId(l, "deal-42"), b = byId(l, "deal-old");
    return a?.status === "delivered" && b?.destinations.length === 2 && b.destinations.every((d) => d.status !== "queued") && l;
  }, { what: "per-destination statuses" });
  const deal = byId(list, "deal-42");
  assert.deepEqual(deal.destinations.map((d) => [d.platform, d.status]).sort(), [["google_ads", "delivered"], ["meta", "delivered"]]);
  assert.equal(deal.source, "crm");
  assert.equal(deal.origin, "api");
  const oldDeal = byId(list, "deal-old");
  const metaOld = oldDeal.destinations.find((d) => d.platform === "meta");
  assert.equal(metaOld.status, "skipped", JSON.stringify(oldDeal));
  assert.match(metaOld.last_error, /older than 7 days/);
  assert.equal(oldDeal.destinations.find((d) => d.platform === "google_ads").status, "delivered");
  assert.ok(JSON.stringify(list).indexOf("John") === -1, "no raw PII in the listing");

  // The same conversion again: a duplicate, nothing sent.
  const again = await gw.req("POST", "/api/v1/conversions", { token: t.api_key, body: won });
  assert.equal(again.status, 202);
  assert.deepEqual([again.json.accepted, again.json.duplicates], [0, 1]);
  const failed = await conversions(t.api_key, "?status=skipped");
  assert.deepEqual(failed.conversions, [], "a conversion with a skipped and a delivered destination is delivered");
  // A single bad conversion is a 400 naming its field.
  const one = await gw.req("POST", "/api/v1/conversions", { token: t.api_key, body: { conversion_id: "x", name: "lead", happened_at: NOW(), value: 3 } });
  assert.equal(one.status, 400);
  assert.equal(one.json.error.field, "currency");
  const site = await gw.req("POST", `/api/v1/conversions?site_key=${t.site_key}`, { headers: { origin: "https://crm.example" }, body: won });
  assert.equal(site.status, 401, "conversions need the api key");
});

test("a Google partial failure marks only its row", async () => {
  const t = await gw.tenant(["partial.example"]);
  await connectGoogle(t.api_key);
  await gw.pixel(t.api_key, { platform: "google_ads", pixel_id: "2222222222", settings: { conversion_actions: { qualified_lead: "333" } } });
  // The fake refuses each row whose gclid starts with "bad-" (CLICK_NOT_FOUND at that row's index).
  const gclid = (i) => (i === 4 || i === 9 ? `bad-${i}` : `G-ok-${i}`);
  const conv = (i) => ({ conversion_id: `lead-${i}`, name: "qualified_lead", happened_at: NOW() - 3600, click_ids: { gclid: gclid(i) }, consent: { marketing: true } });
  const all = Array.from({ length: 12 }, (_, i) => conv(i));
  const r = await gw.req("POST", "/api/v1/conversions/batch", { token: t.api_key, body: { conversions: all } });
  assert.equal(r.json.accepted, 12, r.text);
  const list = await waitFor(async () => {
    const l = await conversions(t.api_key);
    return l.conversions.length === 12 && l.conversions.every((c) => c.status !== "pending") && l;
  }, { what: "the twelve rows settled" });
  const rowsOf = (u) => JSON.parse(u.body).conversions.map((c) => c.gclid);
  const uploads = (await gw.upstream("/v22/customers/2222222222:uploadClickConversions"))
    .filter((u) => rowsOf(u).every((g) => /^(G-ok|bad)-/.test(g)));
  assert.equal(uploads.flatMap(rowsOf).length, 12, "each row uploaded once");
  assert.ok(uploads.some((u) => rowsOf(u).length > 1 && rowsOf(u).some((g) => g.startsWith("bad-"))),
    "a refused row shared its request with uploaded ones");
  const st = Object.fromEntries(list.conversions.map((c) => [c.conversion_id, c.destinations[0]]));
  for (let i = 0; i < 12; i++) {
    const d = st[`lead-${i}`];
    if (i === 4 || i === 9) {
      assert.equal(d.status, "failed", `row ${i}`);
      assert.match(d.last_error, /CLICK_NOT_FOUND/);
      assert.equal(d.attempts, 1, "a refused row is not retried");
    } else {
      assert.equal(d.status, "delivered", `row ${i}`);
    }
  }
  assert.deepEqual((await conversions(t.api_key, "?status=failed")).conversions.map((c) => c.conversion_id).sort(), ["lead-4", "lead-9"]);
});

function stripeSig(secret, body, t = NOW()) {
  return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

test("Stripe: a signed checkout becomes one purchase deduplicated with the browser's; replays, bad and stale signatures, refunds", async () => {
  const t = await gw.tenant(["pay.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "5550002", access_token: "meta-tok" });
  const secret = "whsec_test_abc123";
  const put = await gw.req("PUT", "/api/v1/integrations/stripe", { token: t.api_key, body: { webhook_secret: secret } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.connected, true);
  assert.ok(put.json.webhook_url.endsWith(`/api/v1/webhooks/stripe/${t.tenant_id}`));
  assert.ok(!put.text.includes(secret), "the secret is never returned");
  const listed = await gw.req("GET", "/api/v1/integrations", { token: t.api_key });
  assert.ok(!listed.text.includes(secret));
  assert.equal(listed.json.stripe.connected, true);
  const badSecret = await gw.req("PUT", "/api/v1/integrations/stripe", { token: t.api_key, body: { webhook_secret: "sk_live_nope" } });
  assert.equal(badSecret.json.error.field, "webhook_secret");

  // The browser's purchase arrives first (consented visitor).
  await gw.consent(t, "vis-1", { marketing: true }, "https://pay.example");
  await gw.event(t, { event_id: "evt-browser-1", event_name: "purchase", visitor_id: "vis-1", url: "https://pay.example/thanks", custom_data: { value: 49.9, currency: "EUR" } }, { origin: "https://pay.example" });

  const hook = `/api/v1/webhooks/stripe/${t.tenant_id}`;
  const event = (id, type, object) => JSON.stringify({ id, type, created: NOW() - 5, data: { object } });
  const checkout = event("evt_1", "checkout.session.completed", {
    id: "cs_1", payment_intent: "pi_1", amount_total: 4990, currency: "eur", payment_status: "paid", customer: "cus_1",
    customer_details: { email: "buyer@example.com", name: "Bea Buyer", address: { country: "ES", postal_code: "28001" } },
    client_reference_id: "vis-1__evt-browser-1" });
  const send = (body, sig) => gw.req("POST", hook, { headers: { "content-type": "application/json", "stripe-signature": sig }, body });

  const forged = await send(checkout, stripeSig("whsec_wrong", checkout));
  assert.equal(forged.status, 400);
  assert.equal(forged.json.error.field, "Stripe-Signature");
  const stale = await send(checkout, stripeSig(secret, checkout, NOW() - 600));
  assert.equal(stale.status, 400);
  assert.match(stale.json.error.message, /5 minutes/);
  assert.equal((await conversions(t.api_key)).conversions.length, 0, "nothing stored for a bad signature");

  const ok = await send(checkout, stripeSig(secret, checkout));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.conversion_id, "pi_1");
  assert.equal(ok.json.conversion, "duplicate", "the browser already sent this purchase (same event id)");
  const replay = await send(checkout, stripeSig(secret, checkout));
  assert.equal(replay.json.duplicate, true);
  // The PaymentIntent of the same payment: the same conversion.
  const pi = event("evt_2", "payment_intent.succeeded", { id: "pi_1", amount_received: 4990, currency: "eur" });
  assert.equal((await send(pi, stripeSig(secret, pi))).json.conversion, "duplicate");
  // Another purchase, in yen (zero-decimal), without a browser event: a fresh purchase.
  const yen = event("evt_3", "payment_intent.succeeded", { id: "pi_2", amount_received: 5000, currency: "jpy", receipt_email: "k@example.jp", metadata: { visitor_id: "vis-1" } });
  assert.equal((await send(yen, stripeSig(secret, yen))).json.conversion, "accepted");
  const refund = event("evt_4", "charge.refunded", { id: "ch_1", payment_intent: "pi_2", currency: "jpy", amount_refunded: 1000,
    refunds: { data: [{ id: "re_1", amount: 1000, currency: "jpy", created: NOW() }] } });
  assert.equal((await send(refund, stripeSig(secret, refund))).json.refunds, 1);

  // A payment older than any platform's window (resent from the dashboard) is acknowledged, not retried.
  const ancient = JSON.stringify({ id: "evt_5", type: "payment_intent.succeeded", created: NOW() - 100 * DAY,
    data: { object: { id: "pi_old", amount_received: 100, currency: "usd" } } });
  const old = await send(ancient, stripeSig(secret, ancient));
  assert.equal(old.status, 200, old.text);
  assert.match(old.json.ignored, /happened_at/);

  const list = await conversions(t.api_key);
  assert.equal(list.conversions.length, 2);
  const first = byId(list, "pi_1"), second = byId(list, "pi_2");
  assert.equal(first.deduplicated, true);
  assert.equal(first.event_id, "evt-browser-1");
  assert.deepEqual([second.value, second.currency, second.origin], [5000, "JPY", "stripe"]);
  assert.deepEqual(second.refunds.map((r) => [r.refund_id, r.amount]), [["re_1", 1000]]);
  const metaCalls = await waitFor(async () => {
    const calls = await gw.upstream("/v24.0/5550002/events");
    return calls.flatMap((c) => JSON.parse(c.body).data).length >= 2 && calls;
  }, { what: "Meta got the browser purchase and the yen one" });
  const ids = metaCalls.flatMap((c) => JSON.parse(c.body).data.map((d) => d.event_id)).sort();
  assert.deepEqual(ids, ["evt-browser-1", "pi_2"], "pi_1 was never sent twice");
  const yenEvent = metaCalls.flatMap((c) => JSON.parse(c.body).data).find((d) => d.event_id === "pi_2");
  assert.deepEqual([yenEvent.custom_data.value, yenEvent.action_source], [5000, "other"]);
  assert.deepEqual(yenEvent.user_data.em, [sha256("k@example.jp")]);
});

function hubSig(body) {
  return "sha256=" + createHmac("sha256", META_APP_SECRET).update(body).digest("hex");
}

test("Meta Lead Ads: the handshake, and a signed leadgen notification makes one fetched, forwarded, hashed lead", async () => {
  const t = await gw.tenant(["leads.example"]);
  await connectMeta(t.api_key, "1000000042");
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "5550003", access_token: "meta-tok" });
  const crm = `http://127.0.0.1:${gw.fake.port}/hooks/crm-leads`;
  const put = await gw.req("PUT", "/api/v1/integrations/meta-leads", { token: t.api_key, body: { page_ids: ["1111222233"], crm_webhook_url: crm, marketing_consent: true } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.subscriptions, [{ page_id: "1111222233", subscribed: true }]);
  const [sub] = await gw.upstream("/v24.0/1111222233/subscribed_apps");
  assert.equal(sub.headers.authorization, "Bearer EAApage-1111222233", "the page installs the app with its own token");
  assert.deepEqual(JSON.parse(sub.body), { subscribed_fields: ["leadgen"] });
  const signing = put.json.signing_secret;
  assert.match(signing, /^lsig_/);
  const again = await gw.req("PUT", "/api/v1/integrations/meta-leads", { token: t.api_key, body: { page_ids: ["1111222233"], crm_webhook_url: crm, marketing_consent: true } });
  assert.equal(again.json.signing_secret, undefined, "shown once");
  assert.equal(again.json.has_signing_secret, true);
  const other = await gw.tenant(["other.example"]);
  const taken = await gw.req("PUT", "/api/v1/integrations/meta-leads", { token: other.api_key, body: { page_ids: ["1111222233"] } });
  assert.equal(taken.status, 409);
  assert.equal(taken.json.error.field, "page_ids[0]");

  const hs = (token) => gw.req("GET", `/api/v1/webhooks/meta/leadgen?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`);
  const good = await hs(VERIFY_TOKEN);
  assert.equal(good.status, 200);
  assert.equal(good.text, "1158201444");
  assert.equal((await hs("wrong")).status, 403);

  const body = JSON.stringify({ object: "page", entry: [{ id: "1111222233", time: NOW(), changes: [{ field: "leadgen",
    value: { leadgen_id: "900000000001", page_id: "1111222233", form_id: "7000000001", ad_id: "6000000001", created_time: NOW() - 60 } }] }] });
  const post = (sig) => gw.req("POST", "/api/v1/webhooks/meta/leadgen", { headers: { "content-type": "application/json", "x-hub-signature-256": sig }, body });
  const unsigned = await post("sha256=" + "0".repeat(64));
  assert.equal(unsigned.status, 400);
  const r = await post(hubSig(body));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.leads, [{ leadgen_id: "900000000001", result: "forwarded" }]);

  const pageRead = (await gw.upstream("/v24.0/1111222233")).find((c) => c.query.fields === "access_token");
  assert.match(pageRead.headers.authorization, /^Bearer EAA/, "the tenant's Meta token reads the page token");
  const leadRead = (await gw.upstream("/v24.0/900000000001"))[0];
  assert.equal(leadRead.headers.authorization, "Bearer EAApage-1111222233", "the lead is read with the page's token");
  const [fwd] = await gw.upstream("/hooks/crm-leads");
  const fwdBody = JSON.parse(fwd.body);
  assert.equal(fwdBody.fields.email, "Lead-900000000001@Example.com");
  assert.equal(fwdBody.fields.how_soon, "this week");
  const [, ts, v1] = fwd.headers["x-pixelgate-signature"].match(/^t=(\d+),v1=([0-9a-f]{64})$/);
  assert.equal(v1, createHmac("sha256", signing).update(`${ts}.${fwd.body}`).digest("hex"), "signed with the tenant's secret");

  // Sent again (Meta retries): nothing new.
  const dup = await post(hubSig(body));
  assert.deepEqual(dup.json.leads, [{ leadgen_id: "900000000001", result: "duplicate" }]);
  assert.equal((await gw.upstream("/hooks/crm-leads")).length, 1);

  const list = await conversions(t.api_key);
  assert.equal(list.conversions.length, 1);
  const lead = list.conversions[0];
  assert.deepEqual([lead.conversion_id, lead.name, lead.source, lead.origin], ["meta-lead-900000000001", "lead", "crm", "meta_lead"]);
  assert.ok(!JSON.stringify(list).includes("Example.com"), "no raw answers kept");
  const [capi] = await requests("/v24.0/5550003/events", "the lead at Meta");
  const ev = JSON.parse(capi.body).data[0];
  assert.equal(ev.action_source, "system_generated");
  assert.equal(ev.user_data.lead_id, 900000000001);
  assert.deepEqual(ev.user_data.em, [sha256("lead-900000000001@example.com")]);
  assert.equal(ev.custom_data.lead_event_source, "Meta Lead Ads");
});

test("Meta Lead Ads: a CRM that fails makes Meta resend, and the lead is forwarded then", async () => {
  const t = await gw.tenant(["leads2.example"]);
  await connectMeta(t.api_key, "1000000043");
  const crm = `http://127.0.0.1:${gw.fake.port}/hooks/crm-down`;
  await gw.req("PUT", "/api/v1/integrations/meta-leads", { token: t.api_key, body: { page_ids: ["1111222244"], crm_webhook_url: crm } });
  await gw.script("/hooks/crm-down", [{ status: 503, body: "down" }, { status: 503, body: "down" }]);
  const body = JSON.stringify({ object: "page", entry: [{ id: "1111222244", time: NOW(), changes: [{ field: "leadgen", value: { leadgen_id: "900000000002", page_id: "1111222244" } }] }] });
  const post = () => gw.req("POST", "/api/v1/webhooks/meta/leadgen", { headers: { "content-type": "application/json", "x-hub-signature-256": hubSig(body) }, body });
  const first = await post();
  assert.equal(first.status, 503, "Meta must send it again");
  assert.equal(first.json.leads[0].result, "forward_pending");
  const second = await post();
  assert.equal(second.status, 200, second.text);
  assert.equal(second.json.leads[0].result, "forwarded");
  assert.equal((await gw.upstream("/hooks/crm-down")).length, 3);
  assert.equal((await conversions(t.api_key)).conversions.length, 1, "counted once");
});

test("attribution: a hand-made set of touchpoints and conversions under every model", async () => {
  const t = await gw.tenant(["attr.example"]);
  const o = "https://attr.example";
  const send = (ev) => gw.event(t, ev, { origin: o });
  for (const v of ["a1", "a2", "a3"]) await gw.consent(t, v, { marketing: true, analytics: true }, o);
  const at = (daysAgo) => NOW() - daysAgo * DAY;
  // a1: Google cpc "spring" (9 days ago), a newsletter email (5), organic Google (1), then a 100 EUR purchase.
  await send({ event_name: "page_view", visitor_id: "a1", event_time: at(9), url: `${o}/?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=g1` });
  await send({ event_name: "page_view", visitor_id: "a1", event_time: at(9) + 60, url: `${o}/product`, referrer: `${o}/` });
  await send({ event_name: "page_view", visitor_id: "a1", event_time: at(5), url: `${o}/?utm_source=news&utm_medium=email&utm_campaign=may` });
  await send({ event_name: "page_view", visitor_id: "a1", event_time: at(1), url: `${o}/blog`, referrer: "https://www.google.es/" });
  await send({ event_name: "purchase", visitor_id: "a1", event_time: at(1) + 600, url: `${o}/thanks`, custom_data: { value: 100, currency: "EUR" } });
  // a2: only Facebook paid, then a 50 EUR purchase.
  await send({ event_name: "page_view", visitor_id: "a2", event_time: at(3), url: `${o}/?fbclid=IwAR1&utm_campaign=retarget` });
  await send({ event_name: "purchase", visitor_id: "a2", event_time: at(2), url: `${o}/thanks`, custom_data: { value: 50, currency: "EUR" } });
  // a3: no touchpoint (direct), a 30 EUR purchase.
  await send({ event_name: "purchase", visitor_id: "a3", event_time: at(1), url: `${o}/thanks`, custom_data: { value: 30, currency: "EUR" } });

  const report = async (model) => {
    const r = await gw.req("GET", `/api/v1/attribution?model=${model}&conversion=purchase`, { token: t.api_key });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  await waitFor(async () => (await report("last")).conversions === 3, { what: "the three purchases recorded" });
  const channel = (r, c) => {
    const row = r.by_channel.find((x) => x.channel === c);
    return row ? [row.conversions, row.revenue] : [0, 0];
  };
  // a1's touches are 8 days, 4 days and 10 minutes before its purchase (each 600 s more).
  const w = [8 * DAY + 600, 4 * DAY + 600, 600].map((age) => Math.pow(0.5, age / (7 * DAY)));
  const sum = w.reduce((x, y) => x + y);
  const r4 = (x) => Math.round(x * 10000) / 10000;
  const expected = {
    first: { paid: [2, 150], email: [0, 0], organic_search: [0, 0], direct: [1, 30] },
    last: { paid: [1, 50], email: [0, 0], organic_search: [1, 100], direct: [1, 30] },
    linear: { paid: [r4(1 + 1 / 3), r4(50 + 100 / 3)], email: [r4(1 / 3), r4(100 / 3)], organic_search: [r4(1 / 3), r4(100 / 3)], direct: [1, 30] },
    time_decay: { paid: [r4(1 + w[0] / sum), r4(50 + 100 * w[0] / sum)], email: [r4(w[1] / sum), r4(100 * w[1] / sum)], organic_search: [r4(w[2] / sum), r4(100 * w[2] / sum)], direct: [1, 30] },
    position: { paid: [1.4, 90], email: [0.2, 20], organic_search: [0.4, 40], direct: [1, 30] },
  };
  for (const [model, channels] of Object.entries(expected)) {
    const r = await report(model);
    assert.equal(r.model, model);
    assert.deepEqual([r.conversions, r.revenue, r.currency], [3, 180, "EUR"], model);
    for (const [c, [n, rev]] of Object.entries(channels)) {
      const [gn, grev] = channel(r, c);
      assert.ok(Math.abs(gn - n) < 1e-3 && Math.abs(grev - rev) < 1e-3, `${model} ${c}: ${gn}, ${grev} (expected ${n}, ${rev})`);
    }
  }
  const last = await report("last");
  const spring = (await report("first")).by_campaign.find((x) => x.campaign === "spring");
  assert.deepEqual([spring.source, spring.medium, spring.conversions, spring.revenue], ["google", "cpc", 1, 100]);
  assert.ok(last.by_source_medium.some((x) => x.source === "google" && x.medium === "organic"));
  const bad = await gw.req("GET", "/api/v1/attribution?model=u_shaped", { token: t.api_key });
  assert.equal(bad.json.error.field, "model");
  const set = await gw.req("PUT", "/api/v1/attribution/settings", { token: t.api_key, body: { lookback_days: 4 } });
  assert.equal(set.json.lookback_days, 4);
  // With a 4-day window a1's spring (9 days) and newsletter (5 days) touches no longer count.
  const short = await report("first");
  assert.deepEqual(channel(short, "organic_search"), [1, 100]);
  assert.deepEqual(channel(short, "paid"), [1, 50]);
});
