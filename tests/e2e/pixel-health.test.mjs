// Pixel health beyond the daily test event: a TikTok pixel without a test event code is reported
// silent without a false "test failed" alarm, and the Monday report of every pixel's health goes
// to the tenant's webhook.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "./harness.mjs";

let gw, t;
const H = 3600;
const nowS = () => Math.floor(Date.now() / 1000);
const hooks = () => gw.upstream("/hooks/health-");

before(async () => {
  gw = await startGateway();
  t = await gw.tenant(["health.example"]);
  const hook = `http://127.0.0.1:${gw.fake.port}/hooks/health-${t.tenant_id}`;
  const r = await gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: t.api_key, body: { webhook_url: hook } });
  assert.equal(r.status, 200, r.text);
});
after(async () => { await gw?.stop(); });

test("a silent TikTok pixel without a test event code is reported silent, not as a failed test", async () => {
  const tiktok = await gw.pixel(t.api_key, { platform: "tiktok", pixel_id: "CTIKTOK0001", access_token: "tt-token" });
  const tiktokTest = await gw.pixel(t.api_key, { platform: "tiktok", pixel_id: "CTIKTOK0002", access_token: "tt-token", test_event_code: "TEST123" });
  const meta = await gw.pixel(t.api_key, { platform: "meta", pixel_id: "700700700", access_token: "meta-token" });
  const later = nowS() + 49 * H;
  await gw.cron("0 8 * * *", later);
  const tracked = (await gw.upstream("/open_api/v1.3/event/track")).map((r) => JSON.parse(r.body));
  assert.equal(tracked.length, 1, "only the pixel with a test event code was sent a test event");
  assert.equal(tracked[0].test_event_code, "TEST123");
  const msgs = await hooks();
  assert.equal(msgs.length, 1);
  const msg = JSON.parse(msgs[0].body);
  assert.equal(msg.text, "pixelgate health check for test shop: 3 pixel(s) silent for more than 48 h; 2 accepted the test event, 1 could not be tested");
  const line = msg.blocks.map((b) => b.text?.text || "").find((x) => x.includes("CTIKTOK0001"));
  assert.match(line, /^:white_circle: \*tiktok\* `CTIKTOK0001` — silent 49 h — not tested\nnot tested: TikTok has no dry run/);
  assert.ok(!msgs[0].body.includes("FAILED"));

  const pixels = (await gw.req("GET", "/api/v1/tracking/pixels", { token: t.api_key })).json.pixels;
  const p = pixels.find((x) => x.id === tiktok.id);
  assert.equal(p.health_check.result.ok, null);
  assert.match(p.health_check.result.untested, /test event code/);
  assert.notEqual(p.health.status, "test_failed");
  assert.equal(pixels.find((x) => x.id === tiktokTest.id).health_check.result.ok, true);
  assert.equal(pixels.find((x) => x.id === meta.id).health_check.result.ok, true);
});

test("the weekly pixel health report goes to each tenant's webhook on Mondays", async () => {
  const quiet = await gw.tenant(["nohook.example"]);
  await gw.pixel(quiet.api_key, { platform: "meta", pixel_id: "700700701", access_token: "x" });
  const before = (await hooks()).length;
  // The next Monday 08:00 UTC.
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7 || 7));
  d.setUTCHours(8, 0, 0, 0);
  await gw.cron("0 8 * * 1", d.getTime() / 1000);
  const msgs = (await hooks()).slice(before);
  assert.equal(msgs.length, 1, "one report, to the tenant with a webhook");
  const report = JSON.parse(msgs[0].body);
  assert.match(report.text, /^pixelgate weekly pixel health for test shop: \d+ green, \d+ yellow, \d+ red, \d+ inactive$/);
  assert.equal(report.blocks[0].text.text, "Weekly pixel health");
  const lines = report.blocks.map((b) => b.text?.text || "").join("\n");
  for (const id of ["CTIKTOK0001", "CTIKTOK0002", "700700700"]) assert.ok(lines.includes(id), id);
  assert.ok(!lines.includes("700700701"), "no other tenant's pixel");
  assert.ok(!msgs[0].body.includes("tt-token") && !msgs[0].body.includes("meta-token"));
});
