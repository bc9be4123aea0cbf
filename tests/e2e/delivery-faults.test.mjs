// The delivery pipeline under platform faults and hostile input, in real workerd: a permanent
// error never loops, an event too large for a queue message is refused at intake instead of
// jamming its shard, and a body over the limit is refused before it is read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sleep } from "./harness.mjs";

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

const consented = async (t, visitor, origin) => {
  const r = await gw.consent(t, visitor, { marketing: true, analytics: true }, origin);
  assert.equal(r.status, 201, r.text);
};

test("a permanent batch error ends in one call per event at most, then failed: no loop", async () => {
  const domain = "storm.example", origin = `https://${domain}`;
  const t = await gw.tenant([domain]);
  const pixelId = String(300000 + Math.floor(Math.random() * 600000));
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: pixelId, access_token: "meta-tok" });
  const refused = { status: 400, body: { error: { message: "Invalid parameter", type: "OAuthException", code: 100, error_subcode: 2804019, fbtrace_id: "Fstorm" } } };
  await gw.script(`/v24.0/${pixelId}/events`, [refused], true);
  await consented(t, "v-storm", origin);
  const ids = ["storm-1", "storm-2", "storm-3"];
  const r = await gw.event(t, { events: ids.map((id) => ({ event_id: id, event_name: "lead", visitor_id: "v-storm", url: `${origin}/x` })) }, { origin, batch: true });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.accepted, 3);
  const statuses = async () => Object.fromEntries((await gw.recent(t.api_key))
    .filter((e) => ids.includes(e.event_id))
    .map((e) => [e.event_id, e.deliveries.find((d) => d.platform === "meta")]));
  const st = await waitFor(async () => {
    const s = await statuses();
    return ids.every((id) => s[id]?.status === "failed") && s;
  }, { what: "three failed deliveries", timeout: 30_000 });
  for (const id of ids) assert.match(st[id].last_error ?? "", /Invalid parameter|2804019/, JSON.stringify(st[id]));
  const calls = (await gw.upstream(`/v24.0/${pixelId}/events`)).length;
  // One refused request may have carried all three; each is then tried alone once.
  assert.ok(calls >= 3 && calls <= 6, `${calls} calls`);
  await sleep(4000);
  assert.equal((await gw.upstream(`/v24.0/${pixelId}/events`)).length, calls, "no call after the events failed");
});

test("an event too large for a queue message is refused at intake and never jams its shard", async () => {
  const domain = "huge.example", origin = `https://${domain}`;
  const t = await gw.tenant([domain]);
  const pixelId = String(300000 + Math.floor(Math.random() * 600000));
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: pixelId, access_token: "meta-tok" });
  await consented(t, "v-huge", origin);
  // 60 KB of JSON that grows past the Queue's 128 KB once re-encoded (1e15 is written out whole).
  const numbers = Array.from({ length: 10_000 }, () => 1e15);
  const body = JSON.stringify({ event_id: "huge-1", event_name: "lead", visitor_id: "v-huge", url: `${origin}/x`, custom_data: { numbers } })
    .replaceAll("1000000000000000", "1e15");
  assert.ok(body.length < 64 * 1024, `${body.length} bytes`);
  // What one event may store is capped far below a queue message (custom_data: 8 KB), so the
  // intake refuses it while it reads it, naming the field.
  const single = await gw.req("POST", `/api/v1/tracking/events?site_key=${t.site_key}`, { headers: { origin, "content-type": "text/plain" }, body });
  assert.equal(single.status, 400, single.text);
  assert.equal(single.json.error.field, "custom_data");
  // In a batch only that event is rejected, by its index; the others go through.
  const batch = `{"events":[{"event_id":"ok-1","event_name":"lead","visitor_id":"v-huge","url":"${origin}/a"},${body.replace('"huge-1"', '"huge-2"')}]}`;
  const b = await gw.req("POST", `/api/v1/tracking/events/batch?site_key=${t.site_key}`, { headers: { origin, "content-type": "text/plain" }, body: batch });
  assert.equal(b.status, 202, b.text);
  assert.equal(b.json.accepted, 1);
  assert.deepEqual(b.json.rejected.map((x) => [x.index, x.field]), [[1, "events[1].custom_data"]]);
  // Later events on every shard still arrive.
  const later = Array.from({ length: 12 }, (_, i) => `after-huge-${i}`);
  for (const id of later) {
    const r = await gw.event(t, { event_id: id, event_name: "lead", visitor_id: "v-huge", url: `${origin}/y` }, { origin });
    assert.equal(r.status, 202, r.text);
  }
  await waitFor(async () => {
    const sent = (await gw.upstream(`/v24.0/${pixelId}/events`)).flatMap((q) => JSON.parse(q.body).data.map((e) => e.event_id));
    return [...later, "ok-1"].every((id) => sent.includes(id));
  }, { what: "every later event delivered", timeout: 30_000 });
});

test("a body over the limit is refused while it streams, chunked or declared, POST /healthz too", async () => {
  const t = await gw.tenant(["chunk.example"]);
  const chunked = (path, total) => {
    let sent = 0;
    const body = new ReadableStream({
      pull(c) {
        if (sent >= total) return c.close();
        const n = Math.min(8192, total - sent);
        sent += n;
        c.enqueue(new TextEncoder().encode("x".repeat(n)));
      },
    });
    return fetch(gw.base + path, { method: "POST", body, duplex: "half", headers: { origin: "https://chunk.example", "content-type": "text/plain" } });
  };
  for (const path of [`/api/v1/tracking/events?site_key=${t.site_key}`, "/healthz"]) {
    const r = await chunked(path, 200 * 1024);
    assert.equal(r.status, 413, `${path}: ${await r.text()}`);
    const small = await chunked(path, 10);
    assert.notEqual(small.status, 413, path);
  }
  const declared = await gw.req("POST", "/healthz", { body: "y".repeat(70 * 1024), headers: { "content-type": "text/plain" } });
  assert.equal(declared.status, 413);
  assert.equal((await gw.req("POST", "/healthz", { body: "{}" })).status, 200);
});

async function throttledMeta(domain) {
  const t = await gw.tenant([domain]);
  const pixelId = String(300000 + Math.floor(Math.random() * 600000));
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: pixelId, access_token: "meta-tok" });
  // The first call is throttled for 4 s; the next ones would be accepted.
  await gw.script(`/v24.0/${pixelId}/events`, [{ status: 429, headers: { "retry-after": "4" }, body: { error: { message: "Too many calls", code: 17 } } }]);
  return { t, pixelId, origin: `https://${domain}` };
}

test("a consent withdrawal between intake and delivery stops the deferred delivery", async () => {
  const { t, pixelId, origin } = await throttledMeta("withdraw.example");
  await consented(t, "v-withdraw", origin);
  const r = await gw.event(t, { event_id: "wd-1", event_name: "lead", visitor_id: "v-withdraw", url: `${origin}/x` }, { origin });
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => (await gw.upstream(`/v24.0/${pixelId}/events`)).length === 1, { what: "the throttled first call" });
  const w = await gw.consent(t, "v-withdraw", { marketing: false, analytics: false }, origin);
  assert.equal(w.status, 201, w.text);
  const d = await waitFor(async () => {
    const ev = (await gw.recent(t.api_key)).find((e) => e.event_id === "wd-1");
    const meta = ev?.deliveries.find((x) => x.platform === "meta");
    return meta?.status === "skipped" && meta;
  }, { what: "the delivery skipped after the withdrawal", timeout: 20_000 });
  assert.match(d.last_error ?? d.reason ?? JSON.stringify(d), /withdrawn/);
  assert.equal((await gw.upstream(`/v24.0/${pixelId}/events`)).length, 1, "nothing sent after the withdrawal");
});

test("an erase while a delivery is deferred stops it and leaves nothing re-created", async () => {
  const { t, pixelId, origin } = await throttledMeta("erase.example");
  await consented(t, "v-erase", origin);
  const r = await gw.event(t, { event_id: "er-1", event_name: "lead", visitor_id: "v-erase", url: `${origin}/x` }, { origin });
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => (await gw.upstream(`/v24.0/${pixelId}/events`)).length === 1, { what: "the throttled first call" });
  const erased = await gw.req("DELETE", "/api/v1/tracking/consent/v-erase", { token: t.api_key });
  assert.equal(erased.status, 200, erased.text);
  await sleep(8000);
  assert.equal((await gw.upstream(`/v24.0/${pixelId}/events`)).length, 1, "nothing sent after the erase");
  assert.equal((await gw.recent(t.api_key)).filter((e) => e.event_id === "er-1").length, 0, "the event is not re-created");
  // The visitor has no choice on record now: the banner asks again.
  const after = await gw.req("GET", "/api/v1/tracking/consent/v-erase", { token: t.api_key });
  assert.equal(after.json.consent, null);
});

test("a refused token pauses the pixel (parked, red, notified once) and new credentials resume it exactly once", async () => {
  const domain = "paused.example", origin = `https://${domain}`;
  const t = await gw.tenant([domain]);
  const pixelId = String(300000 + Math.floor(Math.random() * 600000));
  const px = await gw.pixel(t.api_key, { platform: "meta", pixel_id: pixelId, access_token: "expired-tok" });
  const hook = `http://127.0.0.1:${gw.fake.port}/hooks/paused-${pixelId}`;
  assert.equal((await gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: t.api_key, body: { webhook_url: hook } })).status, 200);
  const refused = { status: 400, body: { error: { message: "Error validating access token: Session has expired", type: "OAuthException", code: 190, error_subcode: 463, fbtrace_id: "Fexp" } } };
  await gw.script(`/v24.0/${pixelId}/events`, [refused], true);
  await consented(t, "v-paused", origin);
  const ev = (id) => ({ event_id: id, event_name: "lead", visitor_id: "v-paused", url: `${origin}/x` });
  assert.equal((await gw.event(t, { events: ["p-1", "p-2", "p-3"].map(ev) }, { origin, batch: true })).status, 202);
  const meta = async (id) => (await gw.recent(t.api_key)).find((e) => e.event_id === id)?.deliveries.find((d) => d.platform === "meta");
  await waitFor(async () => (await Promise.all(["p-1", "p-2", "p-3"].map(meta))).every((d) => d?.status === "paused"), { what: "three paused deliveries" });
  // Later events are parked without a call.
  const callsAtPause = (await gw.upstream(`/v24.0/${pixelId}/events`)).length;
  assert.ok(callsAtPause >= 1 && callsAtPause <= 3, `${callsAtPause} calls`);
  for (const id of ["p-4", "p-5"]) assert.equal((await gw.event(t, ev(id), { origin })).status, 202);
  await waitFor(async () => (await Promise.all(["p-4", "p-5"].map(meta))).every((d) => d?.status === "paused"), { what: "later events parked" });
  assert.equal((await gw.upstream(`/v24.0/${pixelId}/events`)).length, callsAtPause, "no call while paused");
  const d1 = await meta("p-1");
  assert.match(d1.last_error, /Error validating access token/);
  // Red with the reason, and one notification.
  const pixel = (await gw.req("GET", `/api/v1/tracking/pixels/${px.id}`, { token: t.api_key })).json;
  assert.equal(pixel.health.color, "red");
  assert.equal(pixel.health.status, "paused");
  assert.match(pixel.paused.reason, /190/);
  const hooks = await gw.upstream(`/hooks/paused-${pixelId}`);
  assert.equal(hooks.length, 1, "notified once");
  assert.match(hooks[0].body, /paused/);
  // New credentials: every parked event is delivered, once.
  await fetch(`http://127.0.0.1:${gw.fake.port}/__reset`, { method: "POST" });
  const put = await gw.req("PUT", `/api/v1/tracking/pixels/${px.id}`, { token: t.api_key, body: { access_token: "fresh-tok" } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.paused, null);
  await waitFor(async () => (await Promise.all(["p-1", "p-2", "p-3", "p-4", "p-5"].map(meta))).every((d) => d?.status === "delivered"), { what: "five delivered after the resume", timeout: 20_000 });
  const sent = (await gw.upstream(`/v24.0/${pixelId}/events`)).flatMap((q) => JSON.parse(q.body).data.map((e) => e.event_id));
  assert.deepEqual([...sent].sort(), ["p-1", "p-2", "p-3", "p-4", "p-5"]);
  const after = (await gw.req("GET", `/api/v1/tracking/pixels/${px.id}`, { token: t.api_key })).json;
  assert.notEqual(after.health.status, "paused");
});
