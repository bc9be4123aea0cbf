// An event's `platforms` limits where it goes (unknown names are refused naming the field), and
// the stats' consent rate is the share of visitors who chose marketing, from the consent records.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sleep } from "./harness.mjs";

let gw, shop;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "810810810", access_token: "EAAB-p" });
  await gw.pixel(shop.api_key, { platform: "google", pixel_id: "G-PLAT01", api_secret: "s" });
  await gw.pixel(shop.api_key, { platform: "tiktok", pixel_id: "CPLAT00001", access_token: "tt" });
});
after(async () => { await gw?.stop(); });

const server = (body) => gw.req("POST", "/api/v1/tracking/events", { token: shop.api_key,
  body: { visitor_id: "plat-visitor", consent: { analytics: true, marketing: true }, url: "https://shop.example/p",
    client_ip_address: "203.0.113.7", client_user_agent: "Mozilla/5.0 (e2e)", ...body } });
const sentTo = async (eventId) => ({
  meta: (await gw.upstream("/v24.0/810810810/events")).some((r) => r.body.includes(eventId)),
  tiktok: (await gw.upstream("/open_api/v1.3/event/track")).some((r) => r.body.includes(eventId)),
});

test("platforms: [\"meta\", \"tiktok\"] reaches those platforms only; without it every pixel", async () => {
  const limited = await server({ event_id: "plat-ev-1", event_name: "purchase", custom_data: { value: 10, currency: "EUR", order_id: "plat-1" }, platforms: ["meta", "tiktok"] });
  assert.equal(limited.status, 202, limited.text);
  const all = await server({ event_id: "plat-ev-2", event_name: "purchase", custom_data: { value: 20, currency: "EUR", order_id: "plat-2" } });
  assert.equal(all.status, 202, all.text);
  await waitFor(async () => (await sentTo("plat-ev-2")).tiktok && (await sentTo("plat-ev-1")).tiktok, { what: "deliveries" });
  await sleep(500);
  const ga4 = (await gw.upstream("/mp/collect")).map((r) => r.body);
  assert.ok(ga4.some((b) => b.includes("\"plat-2\"")), "the unrestricted event reached GA4");
  assert.ok(!ga4.some((b) => b.includes("\"plat-1\"")), "the restricted one did not");
  assert.ok((await sentTo("plat-ev-1")).meta);
  const detail = (await gw.req("GET", "/api/v1/tracking/events/plat-ev-1", { token: shop.api_key })).json;
  const google = detail.destinations.find((d) => d.platform === "google");
  assert.equal(google.recorded, false, "GA4 got nothing for it");
});

test("an unknown platform is a 400 naming the field; in a batch, the event's", async () => {
  const one = await server({ event_name: "lead", platforms: ["meta", "snapchat"] });
  assert.equal(one.status, 400);
  assert.equal(one.json.error.field, "platforms[1]");
  const empty = await server({ event_name: "lead", platforms: [] });
  assert.deepEqual([empty.status, empty.json.error.field], [400, "platforms"]);
  const batch = await gw.req("POST", "/api/v1/tracking/events/batch", { token: shop.api_key,
    body: { events: [{ event_name: "lead", visitor_id: "v1" }, { event_name: "lead", visitor_id: "v1", platforms: ["myspace"] }] } });
  assert.equal(batch.status, 202, batch.text);
  assert.equal(batch.json.accepted, 1);
  assert.deepEqual(batch.json.rejected.map((r) => [r.index, r.field]), [[1, "events[1].platforms[0]"]]);
});

test("consent rate: visitors who chose marketing, each once as their choice stands, not events", async () => {
  const t = await gw.tenant(["rate.example"]);
  const origin = "https://rate.example";
  await gw.consent(t, "rate-a", { marketing: true, analytics: true }, origin);
  await gw.consent(t, "rate-b", { marketing: false, analytics: true }, origin);
  await gw.consent(t, "rate-c", { marketing: true }, origin);
  await gw.consent(t, "rate-c", { marketing: false }, origin); // changed their mind
  await gw.consent(t, "rate-d", { marketing: true }, origin);
  assert.equal((await gw.req("DELETE", "/api/v1/tracking/consent/rate-d", { token: t.api_key })).status, 200); // erased: no choice
  // Many events from the consenting visitor change nothing.
  for (let i = 0; i < 5; i++) {
    await gw.event(t, { event_name: "page_view", visitor_id: "rate-a", url: "https://rate.example/" }, { origin });
  }
  const stats = (await gw.req("GET", "/api/v1/tracking/events/stats", { token: t.api_key })).json;
  assert.equal(stats.consent_rate, 0.3333);
});
