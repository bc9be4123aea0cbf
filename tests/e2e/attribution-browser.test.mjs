// The dashboard's Attribution page in headless Chromium: the model switch changes the credited
// conversions per channel in the table and the chart. Screenshots go to $SHOTS_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor } from "./harness.mjs";
import { launchBrowser } from "./browser.mjs";

const SHOTS = process.env.SHOTS_DIR || "/tmp/pixelgate-shots";
let gw, browser, page, t;
const pageErrors = [];
const NOW = () => Math.floor(Date.now() / 1000);
const O = "https://attrui.example";

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway();
  t = await gw.tenant(["attrui.example"]);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
});
after(async () => { await browser?.close(); await gw?.stop(); });

test("the Attribution page switches models over the same conversions", async () => {
  const send = (ev) => gw.event(t, ev, { origin: O });
  await gw.consent(t, "u1", { marketing: true, analytics: true }, O);
  await gw.consent(t, "u2", { marketing: true, analytics: true }, O);
  // u1: an email, then a paid click, then a 120 EUR purchase; u2: organic search, then 80 EUR.
  await send({ event_name: "page_view", visitor_id: "u1", event_time: NOW() - 5 * 86400, url: `${O}/?utm_source=news&utm_medium=email&utm_campaign=june` });
  await send({ event_name: "page_view", visitor_id: "u1", event_time: NOW() - 2 * 86400, url: `${O}/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=x1` });
  await send({ event_name: "purchase", visitor_id: "u1", event_time: NOW() - 86400, url: `${O}/thanks`, custom_data: { value: 120, currency: "EUR" } });
  await send({ event_name: "page_view", visitor_id: "u2", event_time: NOW() - 3 * 86400, url: `${O}/blog`, referrer: "https://www.bing.com/" });
  await send({ event_name: "purchase", visitor_id: "u2", event_time: NOW() - 3 * 86400 + 300, url: `${O}/thanks`, custom_data: { value: 80, currency: "EUR" } });
  await waitFor(async () => (await gw.req("GET", "/api/v1/attribution", { token: t.api_key })).json?.conversions === 2, { what: "the purchases recorded" });

  await page.goto(`${gw.base}/admin/`);
  await page.fill("#login-key", t.api_key);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#app", { state: "visible" });
  await page.click("#tabs button[data-tab=attribution]");
  await page.waitForSelector("#attr-channels tbody tr td");
  const channels = () => page.$$eval("#attr-channels tbody tr", (rows) => rows.map((r) => Array.from(r.cells, (c) => c.textContent.trim())));
  // Last touch: u1's paid click, u2's organic search.
  assert.deepEqual((await channels()).map((r) => r.slice(0, 2)).sort(), [["organic search", "1"], ["paid", "1"]]);
  assert.equal(await page.textContent("#attr-models button[aria-pressed=true]"), "Last touch");
  await page.screenshot({ path: join(SHOTS, "attribution-01-last.png"), fullPage: true });
  await page.click("#attr-models button[data-model=first]");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#attr-channels tbody tr td:first-child")).some((c) => c.textContent.includes("email")));
  assert.deepEqual((await channels()).map((r) => r.slice(0, 2)).sort(), [["email", "1"], ["organic search", "1"]]);
  await page.click("#attr-models button[data-model=linear]");
  await page.waitForFunction(() => document.querySelectorAll("#attr-channels tbody tr").length === 3);
  assert.deepEqual((await channels()).map((r) => r.slice(0, 2)).sort(), [["email", "0.5"], ["organic search", "1"], ["paid", "0.5"]]);
  assert.equal(await page.$$eval("#attr-chart svg rect", (r) => r.length), 3, "one bar per channel");
  const campaigns = await page.$$eval("#attr-campaigns tbody tr", (rows) => rows.map((r) => r.cells[0].textContent));
  assert.ok(campaigns.includes("brand") && campaigns.includes("june"), campaigns.join());
  await page.screenshot({ path: join(SHOTS, "attribution-02-linear.png"), fullPage: true });
  assert.deepEqual(pageErrors, []);
});
