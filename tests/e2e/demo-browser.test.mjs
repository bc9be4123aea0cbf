// The scripts/dev demo page in real Chromium: it loads the tag and banner, and after "accept all"
// a purchase reaches the (fake) Meta CAPI with the shared event id.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { startGateway, waitFor, ADMIN_TOKEN } from "./harness.mjs";
import { launchBrowser } from "./browser.mjs";

let gw, browser;
before(async () => {
  gw = await startGateway({ DEV_DEMO: "1" });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await gw?.stop(); });

test("demo page: banner, accept, purchase delivered to Meta", async () => {
  const t = (await gw.req("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { name: "pixelgate demo", domains: ["127.0.0.1"] } })).json;
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "1234567890", access_token: "demo-token" });
  const page = await browser.newPage({ locale: "en-US" });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${gw.base}/demo`);
  const accept = page.locator("[data-pixelgate-banner] [data-action=accept]");
  await accept.waitFor({ timeout: 10_000 });
  mkdirSync("/tmp/pixelgate-shots", { recursive: true });
  await page.screenshot({ path: "/tmp/pixelgate-shots/demo-banner.png" });
  await accept.click();
  await page.locator("#purchase").click();
  const sent = await waitFor(async () => {
    const reqs = await gw.upstream("/v24.0/1234567890/events");
    return reqs.flatMap((r) => JSON.parse(r.body).data).find((e) => e.event_name === "Purchase");
  }, { what: "purchase at fake Meta" });
  assert.equal(sent.custom_data.currency, "EUR");
  assert.equal(sent.custom_data.value, 49.9);
  assert.ok(sent.user_data.em?.[0]?.length === 64, "email hashed");
  assert.match(sent.event_id, /^[0-9a-f-]{36}$/);
  await page.screenshot({ path: "/tmp/pixelgate-shots/demo-after.png" });
  assert.deepEqual(errors, []);
});
