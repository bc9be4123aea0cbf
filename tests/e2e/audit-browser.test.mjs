// The dashboard's Deliveries tab in headless Chromium against the real Workers: failed and paused
// deliveries listed with their reason, an event's audit trail, Replay on one row and "Replay all
// failed" once the platform answers again, each event reaching the platform once. Screenshots go
// to $SHOTS_DIR (default /tmp/pixelgate-shots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor } from "./harness.mjs";
import { launchBrowser } from "./browser.mjs";

const SHOTS = process.env.SHOTS_DIR || "/tmp/pixelgate-shots";
const domain = "replay.example", origin = `https://${domain}`;
const metaId = String(500000 + Math.floor(Math.random() * 400000));
const pausedId = String(metaId * 1 + 1);
const ids = ["br-1", "br-2", "br-3"];
let gw, browser, page, shop, meta, paused;
const pageErrors = [];

const shot = (name) => page.screenshot({ path: join(SHOTS, `audit-${name}.png`), fullPage: true });
const metaEventIds = async (since = 0) => (await gw.upstream(`/v24.0/${metaId}/events`)).slice(since)
  .flatMap((r) => JSON.parse(r.body).data.map((e) => e.event_id));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway();
  shop = await gw.tenant([domain]);
  meta = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: metaId, access_token: "meta-tok" });
  paused = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: pausedId, access_token: "expired" });
  await gw.pixel(shop.api_key, { platform: "google", pixel_id: "G-REPLAY1", api_secret: "s" });
  await gw.script(`/v24.0/${metaId}/events`, [{ status: 400, body: { error: { message: "Invalid parameter", type: "OAuthException", code: 100, error_subcode: 2804019, fbtrace_id: "Fbrowser" } } }], true);
  await gw.script(`/v24.0/${pausedId}/events`, [{ status: 400, body: { error: { message: "Error validating access token: Session has expired", type: "OAuthException", code: 190, error_subcode: 463 } } }], true);
  await gw.consent(shop, "v-br", { marketing: true, analytics: true }, origin);
  const r = await gw.event(shop, { events: ids.map((id, i) => ({ event_id: id, event_name: i ? "lead" : "purchase", visitor_id: "v-br", url: `${origin}/p${i}`,
    user_data: { email: "browser.buyer@example.com" }, custom_data: i ? {} : { value: 12.5, currency: "EUR" } })) }, { origin, batch: true });
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => {
    const failed = await gw.req("GET", `/api/v1/tracking/deliveries?status=failed`, { token: shop.api_key });
    const held = await gw.req("GET", `/api/v1/tracking/deliveries?status=paused`, { token: shop.api_key });
    return failed.json.deliveries.length === 3 && held.json.deliveries.length === 3;
  }, { what: "failed and paused deliveries", timeout: 60_000 });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
});
after(async () => { await browser?.close(); await gw?.stop(); });

test("the Deliveries tab lists failed and paused deliveries with their reason", async () => {
  await page.goto(`${gw.base}/admin/#deliveries`);
  await page.fill("#login-key", shop.api_key);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#tab-deliveries", { state: "visible" });
  await page.waitForSelector("#failed-table tbody tr[data-status=failed]");
  const failedRows = page.locator("#failed-table tbody tr");
  assert.equal(await failedRows.count(), 3);
  for (const id of ids) {
    const row = page.locator(`#failed-table tbody tr[data-event="${id}"]`);
    assert.equal(await row.getAttribute("data-pixel"), meta.id);
    assert.match(await row.textContent(), new RegExp(`Meta\\s*${metaId}`));
    assert.match(await row.locator(".reason").textContent(), /Meta error 100\/2804019: Invalid parameter/);
    assert.equal(await row.locator("button[data-action=replay]").count(), 1);
  }
  assert.equal(await page.textContent("#failed-count"), "3");
  const pausedRows = page.locator("#paused-table tbody tr");
  assert.equal(await pausedRows.count(), 3);
  assert.match(await pausedRows.first().locator(".reason").textContent(), /190/);
  assert.equal(await page.locator("#paused-table button[data-action=replay]").count(), 0, "paused ones have no Replay");
  assert.equal(await page.locator("#paused-table button[data-action=credentials]").count(), 3);
  assert.equal(await page.isEnabled("#replay-all"), true);
  await shot("01-deliveries");
});

test("an event's audit trail: every destination's status, attempts, trace id and error; PII only hashed", async () => {
  await page.click('#failed-table tr[data-event="br-1"] button[data-action=event]');
  await page.waitForSelector("#event-dialog[open]");
  assert.match(await page.textContent("#ev-title"), /purchase · br-1/);
  const row = (pixel) => page.locator(`#ev-destinations tr[data-pixel="${pixel}"]`);
  assert.equal(await row(meta.id).getAttribute("data-status"), "failed");
  assert.match(await row(meta.id).textContent(), /Fbrowser/);
  assert.equal(await row(paused.id).getAttribute("data-status"), "paused");
  assert.equal(await page.locator("#ev-destinations tr[data-status=delivered]").count(), 1, "GA4 delivered");
  assert.equal(await page.isVisible("#ev-replay"), true);
  await page.click("#event-dialog summary");
  const data = await page.textContent("#ev-data");
  assert.ok(!data.includes("browser.buyer@example.com"));
  assert.match(data, /[0-9a-f]{64}/);
  await shot("02-event-trail");
  await page.click("#ev-close");
});

test("Replay on one row, then Replay all failed, once the platform answers again: each event reaches Meta once", async () => {
  await gw.script(`/v24.0/${metaId}/events`, [], false); // fixed
  const calls = (await gw.upstream(`/v24.0/${metaId}/events`)).length;
  const pausedCalls = (await gw.upstream(`/v24.0/${pausedId}/events`)).length;

  await page.click('#failed-table tr[data-event="br-2"] button[data-action=replay]');
  await page.waitForFunction(() => /Replayed 1 delivery of br-2/.test(document.querySelector("#flash").textContent));
  await page.waitForSelector('#failed-table tr[data-event="br-2"]', { state: "detached" });
  assert.equal(await page.locator("#failed-table tbody tr").count(), 2);
  await waitFor(async () => (await metaEventIds(calls)).includes("br-2"), { what: "br-2 delivered" });
  await shot("03-replayed-one");

  page.once("dialog", (d) => d.accept());
  await page.click("#replay-all");
  await page.waitForFunction(() => /Replayed 2 deliveries\./.test(document.querySelector("#flash").textContent));
  await page.waitForSelector("#failed-empty", { state: "visible" });
  assert.equal(await page.isEnabled("#replay-all"), false);
  await waitFor(async () => {
    const sent = await metaEventIds(calls);
    return ids.every((id) => sent.includes(id));
  }, { what: "every replayed event delivered" });
  await shot("04-replayed-all");

  // The trail shows the replay; nothing reached Meta twice, nothing reached the paused pixel.
  await page.click('#paused-table tr[data-event="br-1"] button[data-action=event]');
  await page.waitForSelector("#event-dialog[open]");
  await waitFor(async () => {
    await page.click("#ev-close");
    await page.click('#paused-table tr[data-event="br-1"] button[data-action=event]');
    await page.waitForSelector("#event-dialog[open]");
    return (await page.locator(`#ev-destinations tr[data-pixel="${meta.id}"]`).getAttribute("data-status")) === "delivered";
  }, { what: "br-1 delivered in its trail" });
  assert.match(await page.locator(`#ev-destinations tr[data-pixel="${meta.id}"]`).textContent(), /replayed ×1/);
  assert.equal(await page.isVisible("#ev-replay"), false);
  await shot("05-event-trail-replayed");
  await page.click("#ev-close");
  const sent = await metaEventIds(calls);
  assert.deepEqual([...sent].sort(), [...ids].sort(), `once each: ${sent}`);
  assert.equal((await gw.upstream(`/v24.0/${pausedId}/events`)).length, pausedCalls);
  assert.deepEqual(pageErrors, [], pageErrors.join("\n"));
});
