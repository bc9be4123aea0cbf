// The ads pages of /admin in headless Chromium against real workerd and the fake platforms:
// connecting accounts through the OAuth windows (and picking them by Business Manager), sync,
// the reconnect banner, disconnect, the performance page (its numbers are the API's), alert rules,
// and audiences (created from a CSV, members added and removed, synced, a lookalike).
// Screenshots go to $SHOTS_DIR (default /tmp/pixelgate-shots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, waitFor, sha256 } from "./harness.mjs";
import { launchBrowser } from "./browser.mjs";
import { day } from "./ads-helpers.mjs";

const SHOTS = process.env.SHOTS_DIR || "/tmp/pixelgate-shots";
let gw, browser, context, page, shop;
const pageErrors = [];
const FROM = day(-3), TO = day(-1);

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US", timezoneId: "UTC" });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) pageErrors.push(m.text()); });
  page.on("dialog", (d) => d.accept());
  await page.goto(`${gw.base}/admin/#ads-accounts`);
  await page.fill("#login-key", shop.api_key);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#tab-ads-accounts:not([hidden])");
});
after(async () => { await browser?.close(); await gw?.stop(); });

// From the top: a full-page shot of a scrolled page would draw the sticky bar mid-page.
const shot = async (name) => { await page.evaluate(() => window.scrollTo(0, 0)); await page.screenshot({ path: join(SHOTS, `ads-${name}.png`), fullPage: true }); };
const nav = async (name) => { await page.click(`#tabs button[data-tab=${name}]`); await page.waitForSelector(`#tab-${name}:not([hidden])`); };
const api = async (method, path, body) => (await gw.req(method, path, { token: shop.api_key, body })).json;
const flashText = () => page.waitForFunction(() => !document.querySelector("#flash").hidden && document.querySelector("#flash").textContent);

/** Clicks a connect button (or another trigger), finishes the platform's window and closes it. */
async function connectThrough(trigger) {
  const [popup] = await Promise.all([page.waitForEvent("popup"), trigger()]);
  await popup.waitForLoadState();
  // The fake platform sent the person back to the gateway's confirmation page.
  await popup.waitForSelector("form[action=confirm] button");
  assert.match(await popup.textContent("h1"), /test shop/);
  await Promise.all([popup.waitForNavigation(), popup.click("form[action=confirm] button")]);
  const text = await popup.textContent("body");
  await popup.close();
  return text;
}

test("connect Meta: the login reaches three accounts; the person picks a Business Manager's two", async () => {
  await page.waitForSelector("#accounts-empty:not([hidden])");
  await shot("01-accounts-empty");
  const result = await connectThrough(() => page.click("[data-connect=meta]"));
  assert.match(result, /reaches 3 ad accounts/);
  const pick = await page.waitForSelector("form.pick");
  assert.match(await pick.textContent(), /Business Manager · Acme Business/);
  assert.match(await pick.textContent(), /Not in a Business Manager/);
  await page.check('form.pick legend input[aria-label="All of Business Manager · Acme Business"]');
  assert.equal(await page.textContent("form.pick [data-action=connect-picked]"), "Connect 2 accounts");
  await shot("02-pick-accounts");
  await page.click("form.pick [data-action=connect-picked]");
  await page.waitForSelector("#accounts-table tbody tr[data-account] >> nth=1");
  assert.equal(await page.locator("form.pick").count(), 0);
  const rows = await page.locator("#accounts-table tbody tr").allTextContents();
  assert.equal(rows.length, 2);
  assert.match(rows.find((r) => r.includes("Acme ES")), /Acme ES.*act_1111111111.*EUR.*connected.*active.*expires in \d+ d/s);
});

test("connect one Google Ads account by its id; sync now", async () => {
  await page.click("#tab-ads-accounts details summary");
  await page.fill("#connect-google-account", "222-222-3333");
  const result = await connectThrough(() => page.click("[data-connect=google]"));
  assert.match(result, /Google Ads connected to/);
  await page.waitForSelector('#accounts-table tr[data-platform=google]');
  const g = page.locator('#accounts-table tr[data-platform=google]');
  assert.match(await g.textContent(), /Fake Google 2222223333.*222-222-3333.*refreshed automatically/s);
  await g.locator("button[data-action=sync]").click();
  await waitFor(async () => /synced: 2 campaigns/.test(await page.textContent("#flash")), { what: "sync flash" });
  await page.waitForFunction(() => /s ago|min ago/.test(document.querySelector('#accounts-table tr[data-platform=google] td:nth-child(6)').textContent));
  // The days the performance page shows, synced for every account.
  for (const a of (await api("GET", "/api/v1/ads/accounts")).accounts) {
    assert.equal((await gw.req("POST", `/api/v1/ads/sync/${a.id}?from=${FROM}&to=${TO}`, { token: shop.api_key })).status, 200);
  }
  await page.reload();
  await page.waitForSelector('#accounts-table tr[data-platform=google]');
  await shot("03-accounts");
});

test("performance: KPIs per platform and in total, daily chart, sortable campaigns, all equal to the API's", async () => {
  await nav("ads-performance");
  await page.selectOption("#perf-filters select[name=preset]", "custom");
  await page.fill("#perf-filters input[name=from]", FROM);
  await page.fill("#perf-filters input[name=to]", TO);
  await page.dispatchEvent("#perf-filters input[name=to]", "change");
  const report = await api("GET", `/api/v1/ads/metrics?from=${FROM}&to=${TO}`);
  const eur = report.currencies[0];
  await page.waitForFunction((spend) => document.querySelector('#perf-kpis [data-kpi=spend]')?.dataset.value === String(spend), eur.totals.spend);
  const money = (v) => new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR", minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  const kpi = async (k) => page.locator(`#perf-kpis [data-kpi=${k}]`);
  for (const k of ["spend", "impressions", "clicks", "conversions", "conversion_value", "ctr_percent", "cpc", "cpm", "conversion_rate_percent", "cpa", "roas", "efficiency_score"]) {
    assert.equal(await (await kpi(k)).getAttribute("data-value"), String(eur.totals[k]), k);
  }
  assert.equal(await (await kpi("spend")).locator(".kpi-value").textContent(), money(eur.totals.spend));
  assert.equal(await (await kpi("cpa")).locator(".kpi-value").textContent(), money(eur.totals.cpa));
  assert.equal(await (await kpi("roas")).locator(".kpi-value").textContent(), `${+eur.totals.roas.toFixed(2)}×`);
  assert.equal(await (await kpi("ctr_percent")).locator(".kpi-value").textContent(), `${+eur.totals.ctr_percent.toFixed(2)} %`);
  assert.match(await (await kpi("spend")).locator(".fine").textContent(), /Meta .* · Google Ads /);
  // Per platform, and the total.
  const cell = (row, k) => page.locator(`#perf-breakdown ${row} td[data-k=${k}]`);
  for (const p of eur.platforms) {
    assert.equal(await cell(`tr[data-platform=${p.platform}]`, "spend").textContent(), money(p.spend));
    assert.equal(await cell(`tr[data-platform=${p.platform}]`, "conversions").textContent(), String(p.conversions));
    assert.equal(await cell(`tr[data-platform=${p.platform}]`, "score").locator("[data-score]").getAttribute("data-score"), String(p.efficiency_score));
  }
  for (const a of eur.accounts) assert.equal(await cell(`tr[data-account="${a.account_id}"]`, "spend").textContent(), money(a.spend));
  assert.equal(await cell("tr[data-platform=total]", "spend").textContent(), money(eur.totals.spend));
  // The chart: one bar per platform and day.
  assert.equal(await page.locator("#perf-chart svg rect[data-platform]").count(), 3 * 2);
  // Campaigns, by spend (highest first), then sorted by the Spend header.
  const campaigns = (await api("GET", `/api/v1/ads/campaigns?from=${FROM}&to=${TO}`)).campaigns;
  const shown = async () => page.locator("#perf-campaigns tbody tr").evaluateAll((rows) => rows.map((r) => [r.dataset.campaign, r.querySelector("[data-k=spend]").textContent]));
  const byId = (list) => Object.fromEntries(list.map(([id, spend]) => [id, spend]));
  assert.deepEqual(byId(await shown()), byId(campaigns.map((c) => [c.campaign_id, money(c.spend)])), "every campaign's spend is the API's");
  assert.deepEqual((await shown()).map((r) => r[1]), campaigns.map((c) => money(c.spend)), "highest spend first");
  await shot("04-performance");
  await page.click("#perf-campaigns th[data-sort=spend]");
  assert.deepEqual((await shown()).map((r) => r[1]), [...campaigns].reverse().map((c) => money(c.spend)));
  assert.equal(await page.getAttribute("#perf-campaigns th[data-sort=spend]", "aria-sort"), "ascending");
  await page.click("#perf-campaigns th[data-sort=name]");
  const names = await page.locator("#perf-campaigns tbody .cname").allTextContents();
  assert.deepEqual(names, campaigns.map((c) => c.name).sort((a, b) => a.localeCompare(b)));
  // A platform filter: Meta only.
  await page.selectOption("#perf-filters select[name=platform]", "meta");
  await page.waitForFunction(() => !document.querySelector("#perf-breakdown tr[data-platform=google]"));
  const meta = (await api("GET", `/api/v1/ads/metrics?from=${FROM}&to=${TO}&platform=meta`)).currencies[0];
  assert.equal(await (await kpi("spend")).getAttribute("data-value"), String(meta.totals.spend));
  await page.selectOption("#perf-filters select[name=platform]", "");
});

test("a refused token shows the reconnect banner; reconnecting clears it; disconnect removes an account", async () => {
  const accounts = (await api("GET", "/api/v1/ads/accounts")).accounts;
  const es = accounts.find((a) => a.account_id === "1111111111");
  await gw.script("/v24.0/act_1111111111/campaigns", [{ status: 400, body: { error: { message: "Error validating access token: Session has expired", type: "OAuthException", code: 190, error_subcode: 463 } } }]);
  assert.equal((await gw.req("POST", `/api/v1/ads/sync/${es.id}`, { token: shop.api_key })).status, 502);
  await nav("ads-accounts");
  await page.reload();
  const banner = await page.waitForSelector("#reconnect-banner:not([hidden])");
  assert.match(await banner.textContent(), /Meta · Acme ES needs reconnecting: .*Session has expired/);
  await shot("05-reconnect-banner");
  await connectThrough(() => page.click(`#reconnect-banner [data-account="${es.id}"] button[data-action=reconnect]`));
  await page.waitForSelector("#reconnect-banner", { state: "hidden" });
  assert.equal((await api("GET", `/api/v1/ads/accounts/${es.id}`)).status, "active");

  const pt = accounts.find((a) => a.account_id === "1111111112");
  await page.click(`#accounts-table tr[data-account="${pt.id}"] button[data-action=disconnect]`);
  await page.waitForSelector(`#accounts-table tr[data-account="${pt.id}"]`, { state: "detached" });
  assert.equal((await api("GET", "/api/v1/ads/accounts")).accounts.length, 2);
});

test("report settings: default currency, Meta conversion actions, targets", async () => {
  await page.fill("#ads-settings-form input[name=default_currency]", "usd");
  await page.uncheck('#meta-actions input[value=lead]');
  await page.fill("#ads-settings-form input[name=target_cpa]", "12");
  await page.click("#ads-settings-form button[type=submit]");
  await waitFor(async () => /Report settings saved/.test(await page.textContent("#flash")), { what: "settings saved" });
  const s = await api("GET", "/api/v1/ads/settings");
  assert.deepEqual([s.default_currency, s.meta_conversion_actions, s.target_cpa], ["USD", ["purchase"], 12]);
  assert.equal(await page.inputValue("#ads-settings-form input[name=default_currency]"), "USD");
});

test("alerts: the list, editable thresholds and the webhook", async () => {
  await nav("ads-alerts");
  await page.waitForSelector('#alerts-table tr[data-kind=budget_low]');
  assert.match(await page.textContent("#alerts-table"), /Budget almost spent.*Meta campaign 1.*10 % of the budget left/s);
  await page.fill('#threshold-rules input[name=low_ctr_percent]', "3");
  await page.uncheck('#threshold-rules input[name=high_cpc_on]');
  await page.check('#threshold-rules input[name=high_value_conversion_on]');
  await page.fill('#threshold-rules input[name=high_value_conversion]', "750");
  await page.fill('#threshold-rules input[name=budget_utilization_fraction]', "90");
  await page.fill("#thresholds-form input[name=notification_webhook_url]", `http://127.0.0.1:${gw.fake.port}/hooks/ads-browser`);
  await page.click("#thresholds-form button[type=submit]");
  await waitFor(async () => /Alert rules saved/.test(await page.textContent("#flash")), { what: "rules saved" });
  const r = await api("GET", "/api/v1/ads/alerts");
  assert.deepEqual([r.thresholds.low_ctr_percent, r.thresholds.high_cpc, r.thresholds.high_value_conversion, r.thresholds.budget_utilization_fraction],
    [3, null, 750, 0.9]);
  assert.equal(r.notification_webhook_url, `http://127.0.0.1:${gw.fake.port}/hooks/ads-browser`);
  assert.equal(await page.isDisabled('#threshold-rules input[name=high_cpc]'), true);
  await shot("06-alerts");
  const bad = `http://10.1.2.3/hook`;
  await page.fill("#thresholds-form input[name=notification_webhook_url]", bad);
  await page.click("#thresholds-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#thresholds-error").textContent.includes("notification_webhook_url"));
});

test("audiences: create from a CSV, add and remove members, sync, size, lookalike", async () => {
  await nav("ads-audiences");
  await page.waitForSelector("#audiences-empty:not([hidden])");
  await page.click("#new-audience");
  await page.waitForSelector("#audience-dialog[open]");
  await page.fill("#audience-form input[name=name]", "Buyers 2026");
  const acct = (await api("GET", "/api/v1/ads/accounts")).accounts.find((a) => a.account_id === "1111111111");
  await page.selectOption("#audience-form select[name=ads_account_id]", acct.id);
  await page.setInputFiles("#audience-form input[name=csv]", { name: "buyers.csv", mimeType: "text/csv",
    buffer: Buffer.from("Email;Mobile\nana@example.com;612 345 678\njoao@example.pt;\n;+34 699 000 111\n") });
  await page.selectOption("#audience-form select[name=default_country]", "ES");
  await page.waitForFunction(() => /3 contacts read: 2 with an email, 2 with a phone/.test(document.querySelector("#aud-preview").textContent));
  await shot("07-audience-create");
  await page.click("#audience-save");
  const row = await page.waitForSelector("#audiences-table tr[data-audience]");
  const id = await row.getAttribute("data-audience");
  const sel = `#audiences-table tr[data-audience="${id}"]`;
  assert.equal(await page.textContent(`${sel} [data-k=members]`), "3");

  await page.click(`${sel} button[data-action=members]`);
  await page.fill("#audience-form textarea[name=paste]", "new@example.com\nsara@example.com");
  await page.click("#audience-save");
  await waitFor(async () => /Added 2; 5 members/.test(await page.textContent("#flash")), { what: "added" });
  await page.click(`${sel} button[data-action=members]`);
  await page.click('#aud-mode [data-mode=remove]');
  await page.fill("#audience-form textarea[name=paste]", "ana@example.com");
  await page.click("#audience-save");
  await waitFor(async () => /Removed 1; 4 members/.test(await page.textContent("#flash")), { what: "removed" });
  await page.waitForFunction((s) => document.querySelector(`${s} [data-k=members]`).textContent === "4", sel);

  await page.click(`${sel} button[data-action=sync]`);
  await page.waitForFunction((s) => /synced/.test(document.querySelector(`${s} .status-cell`).textContent), sel);
  const audience = await api("GET", `/api/v1/ads/audiences/${id}`);
  const sent = (await gw.upstream(`/v24.0/${audience.platform_audience_id}/usersreplace`)).map((r) => JSON.parse(r.body));
  assert.deepEqual(sent.at(-1).payload.data.map((r) => r.join("|")).sort(),
    [[sha256("joao@example.pt"), ""], ["", sha256("34699000111")], [sha256("new@example.com"), ""], [sha256("sara@example.com"), ""]].map((r) => r.join("|")).sort());
  assert.equal(await page.textContent(`${sel} [data-k=size]`), `≈ ${audience.platform_size}`);

  await page.click(`${sel} button[data-action=lookalike]`);
  await page.fill("#lookalike-form input[name=country]", "es");
  await page.fill("#lookalike-form input[name=ratio]", "3");
  await page.click("#lookalike-form button[type=submit]");
  await page.waitForSelector("#audiences-table tr[data-audience] >> nth=1");
  assert.match(await page.textContent("#audiences-table"), /lookalike ES 3 %/);
  await shot("08-audiences");
  assert.deepEqual(pageErrors, []);
});

test("pixels: the browser tag is switched on in the pixel form (LinkedIn with its Insight Tag partner id)", async () => {
  await page.click("#tabs button[data-tab=pixels]");
  await page.click("#add-pixel");
  await page.waitForSelector("#pixel-dialog[open]");
  await page.selectOption("#pixel-form select[name=platform]", "linkedin");
  await page.fill("#pixel-form input[name=pixel_id]", "7654321");
  await page.fill("#pixel-form input[name=access_token]", "li-token");
  await page.check("#pixel-form input[name=browser_enabled]");
  await page.fill("#pixel-form input[name=browser_id]", "5551234");
  await page.click("#pixel-save");
  await page.waitForSelector("#pixel-dialog", { state: "hidden" });
  const p = (await api("GET", "/api/v1/tracking/pixels")).pixels.find((x) => x.pixel_id === "7654321");
  assert.deepEqual([p.browser_enabled, p.browser_id, p.server_side_enabled], [true, "5551234", true]);
  assert.match(await page.textContent(`#pixel-table tr[data-pixel="${p.id}"]`), /server \+ browser/);
  const cfg = await gw.req("GET", `/api/v1/tracking/config?site_key=${shop.site_key}`, { headers: { origin: "https://shop.example" } });
  assert.deepEqual(cfg.json.pixels.map((x) => [x.p, x.id, x.c]), [["linkedin", "5551234", "7654321"]]);
  assert.deepEqual(pageErrors, []);
});
