// Personal data outside user_data in real workerd: an email, phone number or secret in a page
// URL, referrer, custom_data or utm reaches neither what is stored (read back through the audit
// API) nor any platform in clear, whichever way the event came in (JSON, batch, pixel.gif, a
// server); marketing parameters pass untouched; limited-data deliveries carry no click id, no
// query and no user agent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor } from "./harness.mjs";

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

/** Every spelling of the test's personal data a platform or the store must never see. */
const SECRETS = ["ana.lopez@example.com", "ana.lopez%40example.com", "ana.lopez%2540example.com", "4155552671", "415%20555%202671",
  "reset-9f8e7d", "hunter2", "Lopez"];
const leaks = (text) => SECRETS.filter((s) => text.toLowerCase().includes(s.toLowerCase()));

async function tenantWithPixels(domain) {
  const t = await gw.tenant([domain]);
  const meta = await gw.pixel(t.api_key, { platform: "meta", pixel_id: String(300000 + Math.floor(Math.random() * 99999)), access_token: "meta-tok" });
  const tiktok = await gw.pixel(t.api_key, { platform: "tiktok", pixel_id: "CPRIV" + Math.random().toString(36).slice(2, 8).toUpperCase(), access_token: "tt-tok" });
  const ga4 = await gw.pixel(t.api_key, { platform: "google", pixel_id: "G-" + Math.random().toString(36).slice(2, 9).toUpperCase(), api_secret: "s" });
  return { t, meta, tiktok, ga4, origin: `https://${domain}` };
}

const detail = async (t, id) => gw.req("GET", `/api/v1/tracking/events/${id}`, { token: t.api_key });

test("a URL with ?email= (and phones, names, reset tokens, passwords) reaches neither the store nor a platform in clear", async () => {
  const { t, meta, origin } = await tenantWithPixels("priv.example");
  await gw.consent(t, "v-priv", { marketing: true, analytics: true }, origin);
  const url = `${origin}/thanks?email=ana.lopez%40example.com&utm_source=newsletter&utm_campaign=spring&gclid=Cj0KCQ-abc&fbclid=IwAR-xyz&phone=415%20555%202671&first_name=Ana&last_name=Lopez`;
  const r = await gw.event(t, {
    event_id: "priv-1", event_name: "lead", visitor_id: "v-priv", url,
    referrer: `${origin}/account/reset?token=reset-9f8e7d&password=hunter2`,
    user_data: { email: "ana.lopez@example.com" },
    custom_data: { value: 10, currency: "EUR", customer_email: "x", note: "write to ana.lopez@example.com", plan: "pro" },
    utm: { source: "newsletter", content: "ana.lopez@example.com" },
  }, { origin });
  assert.equal(r.status, 202, r.text);
  const warned = r.json.warnings.map((w) => w.field).sort();
  assert.deepEqual(warned, ["custom_data.customer_email", "custom_data.note", "referrer", "url", "utm.content"]);
  assert.deepEqual(leaks(JSON.stringify(r.json)), [], "the warnings name parts, never values");

  // What is stored (through the audit API): the URL keeps its marketing parameters only.
  const stored = await waitFor(async () => { const d = await detail(t, "priv-1"); return d.status === 200 && d.json; }, { what: "priv-1 stored" });
  assert.equal(stored.url, `${origin}/thanks?utm_source=newsletter&utm_campaign=spring&gclid=Cj0KCQ-abc&fbclid=IwAR-xyz`);
  assert.equal(stored.referrer, `${origin}/account/reset`);
  assert.deepEqual(stored.custom_data, { value: 10, currency: "EUR", plan: "pro" });
  assert.deepEqual(stored.utm, { source: "newsletter" });
  assert.deepEqual(leaks(JSON.stringify(stored)), []);

  // What the platforms got.
  const sent = await waitFor(async () => {
    const reqs = await gw.upstream(`/v24.0/${meta.pixel_id}/events`);
    const data = reqs.flatMap((q) => JSON.parse(q.body).data);
    return data.find((d) => d.event_id === "priv-1");
  }, { what: "Meta request" });
  assert.equal(sent.event_source_url, stored.url);
  assert.equal(sent.user_data.em[0].length, 64, "the email itself went hashed, in user_data");
  await waitFor(async () => (await gw.upstream("/open_api/")).some((q) => q.body.includes("priv-1")) && (await gw.upstream("/mp/collect")).some((q) => q.body.includes("thanks")), { what: "TikTok and GA4 requests" });
  assert.deepEqual(leaks(JSON.stringify(await gw.upstream(""))), [], "no platform request holds the personal data in clear");
});

test("every way in is scrubbed: batch, pixel.gif and server events", async () => {
  const { t, origin } = await tenantWithPixels("ways.example");
  await gw.consent(t, "v-ways", { marketing: true, analytics: true }, origin);
  const batch = await gw.event(t, { events: [
    { event_id: "ways-batch", event_name: "page_view", visitor_id: "v-ways", url: `${origin}/u/ana.lopez@example.com/orders` },
  ] }, { origin, batch: true });
  assert.equal(batch.status, 202, batch.text);
  assert.equal(batch.json.warnings[0].field, "events[0].url");
  const gif = await fetch(`${gw.base}/pixel.gif?site_key=${t.site_key}&event_name=lead&event_id=ways-gif&visitor_id=v-ways&url=${encodeURIComponent(`${origin}/signup?e=ana.lopez%40example.com&utm_medium=cpc`)}`,
    { headers: { referer: `${origin}/signup` } });
  assert.equal(gif.status, 200);
  const server = await gw.req("POST", "/api/v1/tracking/events", { token: t.ingest_key, body: {
    event_id: "ways-server", event_name: "purchase", url: `${origin}/confirm?session=s3ss-abc&tel=%2B14155552671`,
    consent: { analytics: true, marketing: true }, client_user_agent: "Mozilla/5.0 (e2e)", client_ip_address: "203.0.113.5",
  } });
  assert.equal(server.status, 202, server.text);

  const urls = {};
  for (const id of ["ways-batch", "ways-gif", "ways-server"]) {
    urls[id] = (await waitFor(async () => { const d = await detail(t, id); return d.status === 200 && d.json; }, { what: id })).url;
  }
  assert.deepEqual(urls, {
    "ways-batch": `${origin}/u/redacted/orders`,
    "ways-gif": `${origin}/signup?utm_medium=cpc`,
    "ways-server": `${origin}/confirm`,
  });
  await waitFor(async () => {
    const bodies = (await gw.upstream("")).map((q) => q.body).join();
    return ["ways-batch", "ways-gif", "ways-server"].every((id) => bodies.includes(id));
  }, { what: "deliveries" });
  assert.deepEqual(leaks(JSON.stringify(await gw.upstream(""))), []);
  assert.ok(!JSON.stringify(await gw.upstream("")).includes("s3ss-abc"));
});

test("limited-data mode sends no click ids, no query of the page and no user agent", async () => {
  const { t, tiktok, meta, origin } = await tenantWithPixels("ldu.example");
  const policy = await gw.req("PUT", "/api/v1/tracking/settings", { token: t.api_key, body: { consent_policy: { limited_data_without_consent: true } } });
  assert.equal(policy.status, 200, policy.text);
  await gw.consent(t, "v-ldu", { marketing: false, analytics: false }, origin);
  const r = await gw.event(t, { event_id: "ldu-1", event_name: "lead", visitor_id: "v-ldu",
    url: `${origin}/landing?ttclid=E.C.P.tt-click&utm_source=tt&gclid=g-click#top`, referrer: `${origin}/from?q=shoes`,
    click_ids: { ttclid: "E.C.P.tt-click", ttp: "ttp-cookie", fbc: "fb.1.1700000000000.fb-click" },
    user_data: { email: "ana.lopez@example.com" } }, { origin });
  assert.equal(r.status, 202, r.text);
  const ev = await waitFor(async () => {
    const reqs = await gw.upstream("/open_api/v1.3/event/track/");
    return reqs.map((q) => JSON.parse(q.body)).find((b) => b.event_source_id === tiktok.pixel_id && b.data.some((d) => d.event_id === "ldu-1"))?.data[0];
  }, { what: "TikTok limited-data request" });
  assert.equal(ev.limited_data_use, true);
  assert.deepEqual(ev.user, {}, "no identifier, IP or user agent");
  assert.deepEqual(ev.page, { url: `${origin}/landing`, referrer: `${origin}/from` });
  const all = JSON.stringify((await gw.upstream("")).filter((q) => q.body.includes("ldu-1")));
  for (const click of ["tt-click", "g-click", "fb-click", "ttp-cookie", "Mozilla/5.0 (e2e)"]) {
    assert.ok(!all.includes(click), `${click} was sent`);
  }
  // Meta requires a user agent for website events: without one it is not sent, and the audit says why.
  const d = await waitFor(async () => {
    const x = await detail(t, "ldu-1");
    const m = x.json?.destinations?.find((p) => p.pixel_id === meta.id);
    return m && m.status !== "queued" && m.status !== "sending" && m;
  }, { what: "Meta's outcome" });
  assert.match(d.last_error ?? "", /limited-data mode sends none/);
  assert.equal((await gw.upstream(`/v24.0/${meta.pixel_id}/events`)).length, 0);
});
