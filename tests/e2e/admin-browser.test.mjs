// The /admin dashboard in headless Chromium against the real worker in workerd: log in, create a
// pixel, see it turn green once an event is delivered to the fake upstream, see the event in the
// live debug panel. Screenshots go to $SHOTS_DIR (default /tmp/pixelgate-shots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor } from "./harness.mjs";
import { chromium } from "playwright-core";
import { launchBrowser, CHROMIUM } from "./browser.mjs";

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

const preview = () => page.frameLocator("#banner-preview");
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
  // The preview is banner.js in its own frame (Playwright's CSS pierces the banner's shadow root).
  await waitFor(async () => (await preview().locator("h2").textContent({ timeout: 10_000 })) === "Cookies, honestly", { what: "preview title" });
  await page.fill("#banner-form input[name=privacy_url]", "https://shop.example/privacy");
  await page.click("#banner-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#flash").textContent.includes("saved") || document.querySelector("#banner-error").textContent);
  assert.equal(await page.textContent("#banner-error"), "");
  const saved = await gw.req("GET", "/api/v1/tracking/settings", { token: shop.api_key });
  assert.equal(saved.json.banner.texts.en.title, "Cookies, honestly");
  assert.equal(saved.json.banner.colors.primary, "#0f766e");
  await page.screenshot({ path: join(SHOTS, "admin-08-banner.png") }); // not fullPage: see below

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

/** Run in a page or frame: what it shows of the banner (texts, colours, geometry) and its window size. */
function describeBanner() {
  const host = document.querySelector("[data-pixelgate-banner]");
  const root = host.shadowRoot;
  const box = root.querySelector(".pg");
  const css = (el, ...props) => Object.fromEntries(props.map((p) => [p, getComputedStyle(el)[p]]));
  const r = box.getBoundingClientRect();
  return {
    lang: box.getAttribute("lang"), pos: box.dataset.pos, role: box.getAttribute("role"),
    texts: Array.from(root.querySelectorAll("h2, p, legend, label, a, button"), (e) => `${e.localName}: ${e.textContent}`),
    box: css(box, "position", "backgroundColor", "color", "fontFamily", "fontSize", "padding", "borderRadius", "boxShadow", "left", "right", "top", "bottom", "width", "maxWidth"),
    buttons: Array.from(root.querySelectorAll("button"), (b) => ({ action: b.dataset.action, ...css(b, "backgroundColor", "color", "borderColor", "width", "height") })),
    link: root.querySelector("a") && css(root.querySelector("a"), "color"),
    checkbox: css(root.querySelector("input[name=analytics]"), "accentColor"),
    rect: { x: r.x, y: r.y, width: r.width, height: r.height },
    viewport: [innerWidth, innerHeight],
  };
}

test("the banner preview is banner.js itself: a visitor gets the same texts, colours and layout; the preview records no consent", async () => {
  const consentRequests = [];
  const onRequest = (r) => { if (r.url().includes("/api/v1/tracking/consent")) consentRequests.push(r.url()); };
  page.on("request", onRequest);
  await tab("banner");
  await page.waitForSelector("#banner-form[data-loaded]");
  // Spanish texts (one own, the rest banner.js's), own colours, a corner position.
  await page.click("#banner-langs button:text-is('ES')");
  assert.equal(await page.getAttribute("#banner-form input[name=t_title]", "placeholder"), "Valoramos tu privacidad", "placeholders are banner.js's texts");
  await page.fill("#banner-form input[name=t_title]", "Tus datos, tus reglas");
  await page.fill("#banner-form input[name=t_accept_all]", "Vale, todo");
  await page.selectOption("#banner-form select[name=position]", "bottom-left");
  await page.selectOption("#banner-form select[name=default_language]", "es");
  await page.fill("#banner-form input[name=c_background]", "#0b1f33");
  await page.fill("#banner-form input[name=c_text]", "#f8fafc");
  await page.fill("#banner-form input[name=c_primary]", "#f59e0b");
  await page.fill("#banner-form input[name=c_primary_text]", "#111827");
  const pv = preview();
  await waitFor(async () => (await pv.locator("button[data-action=accept]").textContent()) === "Vale, todo", { what: "preview follows the form" });
  assert.equal(await pv.locator(".pg").getAttribute("data-pos"), "bottom-left");
  assert.equal(await pv.locator("h2").textContent(), "Tus datos, tus reglas");
  assert.equal(await pv.locator("button[data-action=reject]").textContent(), "Rechazar todo", "unset texts: banner.js's own");

  // Its buttons decide nothing: the banner stays, no consent request leaves the dashboard.
  await pv.locator("button[data-action=accept]").click();
  await pv.locator("input[name=marketing]").check();
  await pv.locator("button[data-action=save]").click();
  assert.equal(await pv.locator(".pg").count(), 1);
  // The frame is sandboxed (opaque origin): it cannot reach the dashboard's key.
  const frame = page.frames().find((f) => f.url().includes("/admin/preview"));
  assert.ok(frame, "preview frame");
  assert.equal(await frame.evaluate(() => { try { return sessionStorage.length; } catch { return "denied"; } }), "denied");
  assert.equal(await frame.evaluate(() => { try { return parent.document.title; } catch { return "denied"; } }), "denied");

  await page.click("#banner-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#flash").textContent.includes("saved") || document.querySelector("#banner-error").textContent);
  assert.equal(await page.textContent("#banner-error"), "");
  const saved = (await gw.req("GET", "/api/v1/tracking/settings", { token: shop.api_key })).json.banner;
  assert.equal(saved.texts.es.title, "Tus datos, tus reglas");
  assert.deepEqual(saved.colors, { background: "#0b1f33", text: "#f8fafc", primary: "#f59e0b", primary_text: "#111827" });
  await pv.locator("input[name=marketing]").uncheck();

  // A visitor of shop.example (a Spanish page) served the tag by the gateway as on a real site, in
  // a window of the preview frame's size: the same banner, to the pixel. Desktop, then phone.
  const port = new URL(gw.base).port;
  const visitorBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-dev-shm-usage",
      "--host-resolver-rules=MAP track.shop.example 127.0.0.1",
      "--disable-features=PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks"] });
  try {
    for (const mode of ["desktop", "phone"]) {
      if (mode === "phone") {
        await page.click(".preview-size .pill[data-width='390']");
        await waitFor(() => frame.evaluate(() => innerWidth === 390), { what: "phone-sized preview" });
      }
      const inPreview = await frame.evaluate(describeBanner);
      assert.match(await page.textContent("#banner-preview-size"), new RegExp(`${inPreview.viewport[0]} × ${inPreview.viewport[1]} px`));
      // Not fullPage: Chromium leaves the (out-of-process, sandboxed) preview frame blank in those.
      await page.screenshot({ path: join(SHOTS, `admin-12-banner-preview-${mode}.png`) });

      const [width, height] = inPreview.viewport;
      const visitor = await visitorBrowser.newPage({ viewport: { width, height }, locale: "es-ES" });
      await visitor.route("http://shop.example/**", (r) => r.fulfill({ contentType: "text/html", body:
        `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<script src="http://track.shop.example:${port}/t.js" data-site-key="${shop.site_key}" async></script></head>
<body style="margin:0"><h1>Tienda</h1></body></html>` }));
      await visitor.goto("http://shop.example/");
      await visitor.locator("[data-pixelgate-banner] .pg").waitFor({ timeout: 10_000 });
      const seen = await visitor.evaluate(describeBanner);
      await visitor.screenshot({ path: join(SHOTS, `admin-12-banner-visitor-${mode}.png`) });
      await visitor.close();
      assert.deepEqual(inPreview, seen, `${mode}: the preview shows what a visitor gets`);
      // ... and that is the settings saved: texts, colours, place.
      assert.equal(seen.lang, "es");
      assert.ok(seen.texts.includes("h2: Tus datos, tus reglas") && seen.texts.includes("button: Vale, todo"), seen.texts.join("\n"));
      assert.equal(seen.box.backgroundColor, "rgb(11, 31, 51)");
      assert.equal(seen.box.color, "rgb(248, 250, 252)");
      const accept = seen.buttons.find((b) => b.action === "accept");
      assert.deepEqual([accept.backgroundColor, accept.color], ["rgb(245, 158, 11)", "rgb(17, 24, 39)"]);
      if (mode === "desktop") {
        assert.ok(width > 520, `the desktop preview is wider than banner.js's phone layout (${width} px)`);
        assert.ok(seen.rect.x === 16 && seen.rect.width <= 400, `bottom-left card: ${JSON.stringify(seen.rect)}`);
      } else {
        assert.deepEqual([seen.rect.x, seen.rect.width], [0, 390], "phone: a full-width sheet");
      }
    }
  } finally {
    await visitorBrowser.close();
  }
  page.off("request", onRequest);
  assert.deepEqual(consentRequests, [], "the preview never posts a consent");
  await tab("security");
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
