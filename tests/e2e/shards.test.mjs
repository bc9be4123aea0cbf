// A tenant's event shards grow without a ceiling and without losing the dedup window: after the
// count changes, an id claimed before is still a duplicate, new ids spread over the shards, and the
// audit, the log and the dashboard read all of them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, ADMIN_TOKEN } from "./harness.mjs";

let gw, shop;
const origin = "https://shop.example";
before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "333000333", access_token: "tok" });
  await gw.consent(shop, "v-s", { marketing: true, analytics: true });
});
after(async () => { await gw?.stop(); });

const grow = (shards, token = ADMIN_TOKEN, tenant = shop.tenant_id) =>
  gw.req("PUT", `/api/v1/admin/tenants/${tenant}/shards`, { token, body: { shards } });

test("growing a tenant's shards keeps every claim of the window and spreads new events", async () => {
  const before = await gw.event(shop, { event_id: "s-old", event_name: "lead", visitor_id: "v-s", url: `${origin}/a` });
  assert.equal(before.json.accepted, 1);

  assert.equal((await grow(4, shop.api_key)).status, 401, "operator only");
  const r = await grow(4);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.shards.shards, r.json.shards.previous], [4, 1]);
  const again = await grow(8);
  assert.equal(again.status, 400);
  assert.equal(again.json.error.field, "shards");
  assert.match(again.json.error.message, /48 h/);
  assert.equal((await grow(2)).json.error.field, "shards", "never fewer");

  // The id claimed under one shard is still a duplicate, whichever shard it moved to.
  const dup = await gw.event(shop, { event_id: "s-old", event_name: "lead", visitor_id: "v-s", url: `${origin}/a` });
  assert.equal(dup.json.duplicates, 1, dup.text);
  const batch = Array.from({ length: 24 }, (_, i) => ({ event_id: `s-new-${i}`, event_name: "lead", visitor_id: "v-s", url: `${origin}/b` }));
  const b = await gw.event(shop, { events: batch }, { origin, batch: true });
  assert.equal(b.json.accepted, 24, b.text);
  const again2 = await gw.event(shop, { events: batch }, { origin, batch: true });

  assert.equal(again2.json.duplicates, 24);

  // Every one reaches Meta once, and every read sees all shards.
  await waitFor(async () => (await gw.upstream("/v24.0/333000333/events")).flatMap((x) => JSON.parse(x.body).data).length >= 25,
    { what: "25 events at Meta", timeout: 30_000 });
  const ids = (await gw.upstream("/v24.0/333000333/events")).flatMap((x) => JSON.parse(x.body).data.map((e) => e.event_id));
  assert.equal(ids.length, 25);
  assert.equal(new Set(ids).size, 25, "each once");
  await waitFor(async () => (await gw.recent(shop.api_key)).length === 25, { what: "recent over all shards" });
  const log = await gw.req("GET", "/api/v1/tracking/deliveries?limit=200", { token: shop.api_key });
  assert.equal(log.json.deliveries.length, 25, log.text);
  for (const id of ["s-old", "s-new-0", "s-new-23"]) {
    const d = await gw.req("GET", `/api/v1/tracking/events/${id}`, { token: shop.api_key });
    assert.equal(d.status, 200, `${id}: ${d.text}`);
    assert.equal(d.json.destinations[0].status, "delivered");
  }
  const meter = await (await fetch(`${gw.base}/internal/meter?tenant=${shop.tenant_id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
  assert.ok(meter.shards.requests > 0, JSON.stringify(meter));
});
