// t.js loads the platforms' own browser tags (Meta's Pixel, TikTok's Pixel, Google's tag,
// LinkedIn's Insight Tag) for the tenant's browser-enabled pixels, only after the matching
// consent, and gives each event the event_id the server sends. The vendor scripts are stand-ins
// served by Playwright from http://vendor.example (the script URLs are configuration); each
// records what the tag asked of it, through the same queues the real scripts drain.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor, sleep } from "./harness.mjs";
import { launchTagBrowser } from "./browser.mjs";

const SHOTS = process.env.SHOTS_DIR || "/tmp/pixelgate-shots";
const VENDOR = "http://vendor.example";
let gw, shop, browser, TRACK;

// Each stand-in drains its base code's queue into window.vendorCalls and takes later calls there.
const rec = "var R=function(a){(window.vendorCalls=window.vendorCalls||[]).push(a)};";
const STUBS = {
  "/fbevents.js": `${rec}(function(){var f=window.fbq;f.callMethod=function(){R(["fbq"].concat([].slice.call(arguments)))};f.queue.forEach(function(a){f.callMethod.apply(f,a)});f.queue=[]})();`,
  "/gtag.js": `${rec}(function(){var d=window.dataLayer;d.forEach(function(a){R(["gtag"].concat([].slice.call(a)))});d.push=function(a){R(["gtag"].concat([].slice.call(a)))}})();`,
  "/tiktok.js": `${rec}(function(){var t=window.ttq,s=new URL(document.currentScript.src).searchParams.get("sdkid");R(["ttq-loaded",s,!!t._i[s],t._i[s]._u]);t.forEach(function(c){R(["ttq"].concat(c))});t.length=0;t.track=function(){R(["ttq","track"].concat([].slice.call(arguments)))}})();`,
  "/insight.js": `${rec}(function(){var l=window.lintrk;R(["linkedin-partners"].concat(window._linkedin_data_partner_ids));l.q.forEach(function(a){R(["lintrk"].concat(a))});window.lintrk=function(a,b){R(["lintrk",a,b])}})();`,
};

before(async () => {
  gw = await startGateway({
    META_PIXEL_JS_URL: `${VENDOR}/fbevents.js`, TIKTOK_PIXEL_JS_URL: `${VENDOR}/tiktok.js`,
    GTAG_JS_URL: `${VENDOR}/gtag.js`, LINKEDIN_INSIGHT_JS_URL: `${VENDOR}/insight.js`,
  });
  shop = await gw.tenant(["shop.example"]);
  await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "444555666", access_token: "EAAB-browser", browser_enabled: true });
  await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "444555000", access_token: "EAAB-server-only" });
  await gw.pixel(shop.api_key, { platform: "tiktok", pixel_id: "CTIKBROWSER1", access_token: "tt", browser_enabled: true });
  await gw.pixel(shop.api_key, { platform: "google", pixel_id: "G-BROWSER1", api_secret: "s", browser_enabled: true });
  await gw.pixel(shop.api_key, { platform: "linkedin", pixel_id: "7770001", access_token: "li", browser_enabled: true, browser_id: "5551234", event_names: ["purchase"] });
  TRACK = `http://track.shop.example:${new URL(gw.base).port}`;
  browser = await launchTagBrowser();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => { await browser?.close(); await gw?.stop(); });

async function open() {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 700 }, locale: "en-US" });
  const page = await ctx.newPage();
  await page.route("http://shop.example/**", (r) => r.fulfill({ contentType: "text/html", body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="${TRACK}/t.js" data-site-key="${shop.site_key}" async></script></head><body><h1>Shop</h1></body></html>` }));
  const vendorRequests = [];
  await page.route(`${VENDOR}/**`, (r) => {
    const path = new URL(r.request().url()).pathname;
    vendorRequests.push(r.request().url());
    return r.fulfill({ contentType: "application/javascript", body: STUBS[path] || "" });
  });
  await page.goto("http://shop.example/product");
  return { ctx, page, vendorRequests };
}
const calls = (page) => page.evaluate(() => window.vendorCalls || []);

test("no vendor tag before consent; after it each platform's tag loads with the tenant's ids and gets the server's event_id", async () => {
  const { ctx, page, vendorRequests } = await open();
  await page.locator("[data-pixelgate-banner] .pg").waitFor({ timeout: 10_000 });
  await sleep(800);
  assert.deepEqual(vendorRequests, [], "nothing loaded before a choice");
  assert.deepEqual(await page.evaluate(() => [typeof window.fbq, typeof window.ttq, typeof window.gtag, typeof window.lintrk]),
    ["undefined", "undefined", "undefined", "undefined"]);

  await page.click("[data-pixelgate-banner] [data-action=accept]");
  await waitFor(async () => vendorRequests.length === 4, { what: "four vendor scripts" });
  assert.deepEqual(vendorRequests.map((u) => new URL(u).pathname).sort(), ["/fbevents.js", "/gtag.js", "/insight.js", "/tiktok.js"]);
  assert.ok(vendorRequests.includes(`${VENDOR}/tiktok.js?sdkid=CTIKBROWSER1&lib=ttq`));
  assert.ok(vendorRequests.includes(`${VENDOR}/gtag.js?id=G-BROWSER1`));

  const purchaseId = await page.evaluate(() => window.pixelgate("track", "purchase", { value: 99.5, currency: "EUR" }));
  const c = await waitFor(async () => {
    const all = await calls(page);
    return all.some((x) => x[0] === "lintrk" && x[2]?.event_id === purchaseId) ? all : null;
  }, { what: "the purchase reaching every vendor tag" });
  // Meta: initialized with the browser-enabled pixel only; the event with the same eventID.
  assert.deepEqual(c.filter((x) => x[0] === "fbq" && x[1] === "init"), [["fbq", "init", "444555666"]]);
  assert.deepEqual(c.find((x) => x[0] === "fbq" && x[2] === "Purchase"), ["fbq", "track", "Purchase", { value: 99.5, currency: "EUR" }, { eventID: purchaseId }]);
  // TikTok: its instance set up for the pixel code, the event with the same event_id.
  assert.deepEqual(c.find((x) => x[0] === "ttq-loaded"), ["ttq-loaded", "CTIKBROWSER1", true, `${VENDOR}/tiktok.js`]);
  assert.deepEqual(c.find((x) => x[0] === "ttq" && x[2] === "PlaceAnOrder"), ["ttq", "track", "PlaceAnOrder", { value: 99.5, currency: "EUR" }, { event_id: purchaseId }]);
  // Google: configured with the measurement id; the event carries the id too.
  assert.ok(c.some((x) => x[0] === "gtag" && x[1] === "config" && x[2] === "G-BROWSER1"));
  assert.deepEqual(c.find((x) => x[0] === "gtag" && x[1] === "event" && x[2] === "purchase"), ["gtag", "event", "purchase", { event_id: purchaseId, value: 99.5, currency: "EUR" }]);
  // LinkedIn: the Insight Tag's partner id; the conversion rule fired for the purchase only.
  assert.deepEqual(c.find((x) => x[0] === "linkedin-partners"), ["linkedin-partners", "5551234"]);
  const li = c.filter((x) => x[0] === "lintrk");
  assert.deepEqual(li, [["lintrk", "track", { conversion_id: "7770001", event_id: purchaseId }]], "the rule takes purchases, not page views");

  // The page view went to Meta with the event_id of the server's copy.
  const pageView = c.find((x) => x[0] === "fbq" && x[2] === "PageView");
  assert.ok(pageView, "PageView");
  const server = await waitFor(async () => {
    const sent = (await gw.upstream("/v24.0/444555666/events")).flatMap((r) => JSON.parse(r.body).data);
    return sent.some((e) => e.event_id === purchaseId) && sent.some((e) => e.event_id === pageView[4].eventID) ? sent : null;
  }, { what: "the server's copies at Meta" });
  assert.equal(server.find((e) => e.event_id === purchaseId).event_name, "Purchase");
  assert.equal(server.find((e) => e.event_id === pageView[4].eventID).event_name, "PageView");
  await page.screenshot({ path: join(SHOTS, "tag-vendors-after-consent.png") });

  // Loaded once: another event adds no script.
  await page.evaluate(() => window.pixelgate("track", "lead"));
  await sleep(500);
  assert.equal(vendorRequests.length, 4);
  await ctx.close();
});

test("analytics consent alone loads Google's tag only; a rejection loads nothing", async () => {
  const a = await open();
  await a.page.locator("[data-pixelgate-banner] .pg").waitFor({ timeout: 10_000 });
  await a.page.evaluate(() => window.pixelgate("consent", "update", { analytics: true, marketing: false, functional: true }));
  await waitFor(async () => a.vendorRequests.length === 1, { what: "gtag" });
  await sleep(600);
  assert.deepEqual(a.vendorRequests, [`${VENDOR}/gtag.js?id=G-BROWSER1`]);
  assert.equal(await a.page.evaluate(() => typeof window.fbq), "undefined");
  await a.ctx.close();

  const r = await open();
  await r.page.locator("[data-pixelgate-banner] .pg").waitFor({ timeout: 10_000 });
  await r.page.click("[data-pixelgate-banner] [data-action=reject]");
  await r.page.evaluate(() => window.pixelgate("track", "purchase", { value: 10, currency: "EUR" }));
  await sleep(800);
  assert.deepEqual(r.vendorRequests, []);
  await r.ctx.close();
});
