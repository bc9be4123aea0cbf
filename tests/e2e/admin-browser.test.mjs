// The /admin dashboard in headless Chromium against the real worker in workerd: log in, create a
// pixel, see it turn green once an event is delivered to the fake upstream, see the event in the
// live debug panel. Screenshots go to $SHOTS_DIR (default /tmp/pixelgate-shots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor } from "./harness.mjs";
import { launchBrowser } from "./browser.mjs";

const SHOTS = process.env.SHOTS_DIR || "/tmp/pixelgate-shots";
let gw, browser, page, shop;
const pageErrors = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
});
after(async () => { await browser?.close(); await gw?.stop(); });

const shot = (name) => page.screenshot({ path: join(SHOTS, `admin-${name}.png`), fullPage: true });
const tab = (name) => page.click(`#tabs button[data-tab=${name}]`);

test("login with a wrong key fails, with the right key opens the dashboard", async () => {
  await page.goto(`${gw.base}/admin/`);
  await page.waitForSelector("#login-form", { state: "visible" });
  await page.fill("#login-key", "sk_not_a_real_key");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#login-error").textContent.includes("Unknown"));
  await shot("01-login-error");
  await page.fill("#login-key", shop.api_key);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#app", { state: "visible" });
  assert.equal(await page.textContent("#tenant-name"), "test shop");
  assert.ok(!page.url().includes(shop.api_key), "the key is never in the URL");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("pixelgate.api_key")), shop.api_key);
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing persisted beyond the tab");
  await page.waitForSelector("#metrics .metric");
  await shot("02-overview-empty");
});

let pixelRowSel;
test("create a Meta pixel: token is write-only, status starts yellow", async () => {
  await tab("pixels");
  await page.click("#add-pixel");
  await page.waitForSelector("#pixel-dialog[open]");
  await page.selectOption("#pixel-form select[name=platform]", "meta");
  await page.fill("#pixel-form input[name=pixel_id]", "123123123");
  await page.fill("#pixel-form input[name=access_token]", "EAAB-browser-secret");
  await page.fill("#pixel-form input[name=domains]", "shop.example");
  await shot("03-pixel-form");
  await page.click("#pixel-save");
  await page.waitForSelector("#pixel-dialog", { state: "hidden" });
  const row = await page.waitForSelector("#pixel-table tbody tr[data-pixel]");
  pixelRowSel = `#pixel-table tbody tr[data-pixel="${await row.getAttribute("data-pixel")}"]`;
  assert.equal(await row.getAttribute("data-color"), "yellow");
  assert.ok(!(await page.content()).includes("EAAB-browser-secret"));
  // Editing shows that a token is set, never its value.
  await page.click(`${pixelRowSel} button[data-action=edit]`);
  await page.waitForSelector("#pixel-dialog[open]");
  assert.equal(await page.inputValue("#pixel-form input[name=access_token]"), "");
  assert.match(await page.getAttribute("#pixel-form input[name=access_token]", "placeholder"), /^set/);
  await page.click("#pixel-cancel");
  await shot("04-pixels-yellow");
});

test("verify shows the platform's answer", async () => {
  await page.click(`${pixelRowSel} button[data-action=verify]`);
  await page.waitForFunction(() => /accepted|rejected/.test(document.querySelector("#verify-body").textContent));
  assert.match(await page.textContent("#verify-body"), /accepted by Meta \(HTTP 200\)/);
  assert.equal((await gw.upstream("/v24.0/123123123")).filter((r) => r.method === "GET").length, 1);
});

test("after a delivered event the pixel turns green and the event shows in the live panel", async () => {
  await gw.consent(shop, "browser-visitor", { marketing: true, analytics: true });
  const r = await gw.event(shop, { event_id: "browser-ev-1", event_name: "purchase", visitor_id: "browser-visitor", url: "https://shop.example/thanks",
    user_data: { email: "Buyer@Example.com" }, custom_data: { value: 49.9, currency: "EUR" } });
  assert.equal(r.status, 202);
  await waitFor(async () => (await gw.upstream("/v24.0/123123123/events")).length > 0, { what: "Meta delivery" });

  await tab("live");
  const ev = await page.waitForSelector('tr.event[data-event="browser-ev-1"]', { timeout: 15_000 });
  await page.waitForSelector('tr.event[data-event="browser-ev-1"] .chip[data-platform=meta][data-status=delivered]', { timeout: 15_000 });
  assert.match(await ev.textContent(), /purchase/);
  // Consent chips: analytics and marketing on.
  assert.equal(await page.locator('tr.event[data-event="browser-ev-1"] .chip.on').count(), 2);
  await page.click('tr.event[data-event="browser-ev-1"] button');
  const details = await page.textContent('tr.details[data-event="browser-ev-1"]');
  assert.ok(!details.includes("Buyer@Example.com") && !details.toLowerCase().includes("buyer@example.com"), "PII only hashed");
  assert.match(details, /[0-9a-f]{64}/);
  await shot("05-live-events");

  // A second event arrives while the panel is open: it appears without a reload (polling).
  await gw.event(shop, { event_id: "browser-ev-2", event_name: "lead", visitor_id: "browser-visitor", url: "https://shop.example/contact" });
  await page.waitForSelector('tr.event[data-event="browser-ev-2"]', { timeout: 15_000 });

  await tab("pixels");
  await page.waitForSelector(`${pixelRowSel}[data-color=green]`, { timeout: 15_000 });
  await shot("06-pixels-green");
});

test("overview shows metrics and the 48 h chart per platform", async () => {
  await tab("overview");
  await page.waitForSelector("#chart svg polyline[data-platform=meta]");
  const metrics = await page.textContent("#metrics");
  assert.match(metrics, /Server-side success\s*100 %/);
  assert.match(metrics, /Consent rate\s*100 %/);
  await shot("07-overview");
});

test("banner settings with live preview, install snippet, security", async () => {
  await tab("banner");
  await page.waitForSelector("#banner-form[data-loaded]");
  await page.fill("#banner-form input[name=t_title]", "Cookies, honestly");
  await page.fill("#banner-form input[name=c_primary]", "#0f766e");
  const previewTitle = await page.evaluate(() => document.querySelector("#banner-preview").shadowRoot.querySelector("h3").textContent);
  assert.equal(previewTitle, "Cookies, honestly");
  await page.fill("#banner-form input[name=privacy_url]", "https://shop.example/privacy");
  await page.click("#banner-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#flash").textContent.includes("saved") || document.querySelector("#banner-error").textContent);
  assert.equal(await page.textContent("#banner-error"), "");
  const saved = await gw.req("GET", "/api/v1/tracking/settings", { token: shop.api_key });
  assert.equal(saved.json.banner.texts.en.title, "Cookies, honestly");
  assert.equal(saved.json.banner.colors.primary, "#0f766e");
  await shot("08-banner");

  await tab("install");
  const snippet = await page.textContent("#snippet");
  assert.equal(snippet, `<script src="${gw.base}/t.js" data-site-key="${shop.site_key}" async></script>`);
  await shot("09-install");

  await tab("security");
  await page.fill("#webhook", `http://127.0.0.1:${gw.fake.port}/hooks/browser`);
  await page.click("#notify-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#webhook-status").textContent.includes("127.0.0.1"));
  await shot("10-security");
});

test("rotating the key in the dashboard keeps the session on the new key; the old key stops", async () => {
  page.once("dialog", (d) => d.accept());
  await page.click("#rotate");
  await page.waitForSelector("#new-key", { state: "visible" });
  const newKey = await page.textContent("#new-key-value");
  assert.match(newKey, /^sk_/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("pixelgate.api_key")), newKey);
  assert.equal((await gw.req("GET", "/api/v1/tracking/pixels", { token: shop.api_key })).status, 401);
  await tab("pixels");
  await page.waitForSelector(`${pixelRowSel}`);
  await shot("11-rotated");
  await page.click("#logout");
  await page.waitForSelector("#login", { state: "visible" });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("pixelgate.api_key")), null);
  assert.deepEqual(pageErrors.filter((e) => !/status of 401/.test(e)), [], pageErrors.join("\n"));
});
