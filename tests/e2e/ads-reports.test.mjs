// The marketer's side of the ads module in real workerd: report settings, the campaigns report and
// one campaign's days, the efficiency score and grade on a hand-computed fixture, the tenant's Meta
// conversion actions, the default currency, the new alert rules, account status from the daily
// account check, audience members edited and the Monday job replacing both platforms' lists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sha256 } from "./harness.mjs";
import { connect as connectWith, adsShape, day, upstreamBase } from "./ads-helpers.mjs";

let gw;
const FROM = "2025-03-01", TO = "2025-03-03";
const connect = async (key, platform, account) => {
  const { cb } = await connectWith(gw, key, platform, account);
  assert.equal(cb.status, 200, cb.text);
  return cb.json.connected[0];
};
const api = (key) => ({
  get: (path) => gw.req("GET", path, { token: key }),
  put: (path, body) => gw.req("PUT", path, { token: key, body }),
  patch: (path, body) => gw.req("PATCH", path, { token: key, body }),
  post: (path, body) => gw.req("POST", path, { token: key, body }),
});

before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

test("settings: EUR and purchases + leads by default; updates merge, null resets, bad fields are named", async () => {
  const t = await gw.tenant(["settings.example"]);
  const a = api(t.api_key);
  const got = await a.get("/api/v1/ads/settings");
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json, { default_currency: "EUR", meta_conversion_actions: ["purchase", "lead"], target_ctr_percent: 2, target_conversion_rate_percent: 5,
    target_cpa: null, target_roas: 4, customer_match_consent: null });
  const put = await a.put("/api/v1/ads/settings", { default_currency: "gbp", target_cpa: 12.5, customer_match_consent: { ad_user_data: true, ad_personalization: false } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual([put.json.default_currency, put.json.target_cpa, put.json.target_roas], ["GBP", 12.5, 4]);
  const reset = await a.put("/api/v1/ads/settings", { default_currency: null });
  assert.deepEqual([reset.json.default_currency, reset.json.target_cpa], ["EUR", 12.5]);
  for (const [body, field] of [[{ default_currency: "euros" }, "default_currency"], [{ target_roas: 0 }, "target_roas"],
    [{ meta_conversion_actions: ["purchase", "no spaces"] }, "meta_conversion_actions[1]"], [{ colour: "red" }, "colour"],
    [{ customer_match_consent: { ad_user_data: "yes", ad_personalization: true } }, "customer_match_consent.ad_user_data"]]) {
    const r = await a.put("/api/v1/ads/settings", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.field, field);
  }
  assert.equal((await gw.req("GET", "/api/v1/ads/settings")).status, 401);
});

test("campaigns report, one campaign's days with reach and frequency, score and grade on a hand-computed fixture", async () => {
  const t = await gw.tenant(["report.example"]);
  const a = api(t.api_key);
  // Targets: CTR 4 %, conversion rate 5 % (default), CPA 4.00, ROAS 8.
  assert.equal((await a.put("/api/v1/ads/settings", { target_ctr_percent: 4, target_cpa: 4, target_roas: 8 })).status, 200);
  const meta = await connect(t.api_key, "meta", "1000000101");
  const google = await connect(t.api_key, "google", "4000000101");
  for (const acct of [meta, google]) {
    const s = await a.post(`/api/v1/ads/sync/${acct.id}?from=${FROM}&to=${TO}`);
    assert.equal(s.status, 200, s.text);
  }

  const list = await a.get(`/api/v1/ads/campaigns?account_id=${meta.id}&from=${FROM}&to=${TO}`);
  assert.equal(list.status, 200, list.text);
  const c = list.json.campaigns;
  assert.deepEqual(c.map((x) => x.name), ["Meta campaign 3", "Meta campaign 2", "Meta campaign 1"], "highest spend first");
  const c1 = c[2];
  assert.deepEqual([c1.platform, c1.account_id, c1.status, c1.objective, c1.start_date, c1.end_date, c1.currency],
    ["meta", "1000000101", "active", "OUTCOME_SALES", "2025-01-01", null, "EUR"]);
  assert.deepEqual([c1.daily_budget, c1.budget_remaining, c1.lifetime_budget], [50, 5, null]);
  assert.equal(c[1].end_date, "2026-12-31");
  // Campaign 1 over 3 days: 3,000 impressions, 60 clicks, 31.50 spent, 6 purchases worth 189.00.
  // CTR 2 % / 4 % = 0.5; conversion rate 10 % → 1; CPA 5.25 → 4 / 5.25 = 0.762; ROAS 6 / 8 = 0.75.
  // Score = (20 × 0.5 + 20 × 1 + 30 × 0.762 + 30 × 0.75) / 100 = 75.36 → 75, grade B.
  assert.deepEqual([c1.impressions, c1.clicks, c1.spend, c1.conversions, c1.conversion_value], [3000, 60, 31.5, 6, 189]);
  assert.deepEqual([c1.efficiency_score, c1.grade], [75, "B"]);
  assert.deepEqual(c1.score_components, { ctr: 0.5, conversion_rate: 1, cpa: 0.762, roas: 0.75 });
  // Campaign 3: CTR 1.833 % → 0.458; conversion rate 9.1 % → 1; CPA 6.25 → 0.64; ROAS 5.04 → 0.63:
  // 9.17 + 20 + 19.2 + 18.9 = 67.27 → 67, grade C.
  assert.deepEqual([c[0].efficiency_score, c[0].grade], [67, "C"]);

  const g = (await a.get(`/api/v1/ads/campaigns?platform=google&from=${FROM}&to=${TO}`)).json.campaigns;
  assert.deepEqual(g.map((x) => [x.objective, x.start_date, x.end_date, x.daily_budget]).sort(),
    [["PERFORMANCE_MAX", "2025-02-01", null, 40], ["SEARCH", "2025-02-01", null, 40]]);
  assert.equal((await a.get(`/api/v1/ads/campaigns?status=paused&from=${FROM}&to=${TO}`)).json.campaigns.length, 0);
  const bad = await a.get("/api/v1/ads/campaigns?status=running");
  assert.deepEqual([bad.status, bad.json.error.field], [400, "status"]);
  const unknown = await a.get("/api/v1/ads/campaigns?account_id=nope");
  assert.deepEqual([unknown.status, unknown.json.error.field], [400, "account_id"]);
  // Outside the synced days the campaigns are still listed, with zeros and no score.
  const idle = (await a.get(`/api/v1/ads/campaigns?account_id=${meta.id}&from=2024-01-01&to=2024-01-31`)).json.campaigns;
  assert.deepEqual(idle.map((x) => [x.spend, x.efficiency_score ?? null]), [[0, null], [0, null], [0, null]]);

  const days = await a.get(`/api/v1/ads/campaigns/${c1.campaign_id}/metrics?from=2025-02-28&to=${TO}`);
  assert.equal(days.status, 200, days.text);
  assert.equal(days.json.daily.length, 4);
  assert.deepEqual(days.json.daily[0], { date: "2025-02-28", impressions: 0, clicks: 0, spend: 0, conversions: 0, conversion_value: 0, reach: null, frequency: null,
    ctr_percent: null, cpc: null, cpm: null, conversion_rate_percent: null, cpa: null, roas: null });
  const d1 = days.json.daily[1];
  assert.deepEqual([d1.date, d1.impressions, d1.clicks, d1.spend, d1.reach, d1.frequency, d1.ctr_percent], ["2025-03-01", 1000, 20, 10.5, 800, 1.25, 2]);
  assert.deepEqual([days.json.campaign.spend, days.json.campaign.grade], [31.5, "B"]);
  const gDays = (await a.get(`/api/v1/ads/campaigns/9000/metrics?from=${FROM}&to=${TO}`)).json.daily;
  assert.deepEqual(gDays.map((x) => x.reach), [null, null, null], "Google gives no daily reach");
  assert.equal((await a.get("/api/v1/ads/campaigns/123/metrics")).status, 404);

  const report = (await a.get(`/api/v1/ads/metrics?from=${FROM}&to=${TO}`)).json;
  const eur = report.currencies[0];
  // Meta: 9,900 impressions, 189 clicks, 103.50 spent, 18 conversions worth 567.00: CTR 1.909 % →
  // 0.477; conversion rate 9.5 % → 1; CPA 5.75 → 0.696; ROAS 5.478 → 0.685: 71, grade B.
  const m = eur.platforms.find((p) => p.platform === "meta");
  assert.deepEqual([m.spend, m.efficiency_score, m.grade], [103.5, 71, "B"]);
  assert.deepEqual(eur.accounts.map((x) => [x.platform, x.name, x.id]).sort(),
    [["google", "Fake Google 4000000101", google.id], ["meta", "Fake Meta 1000000101", meta.id]]);
  assert.equal(eur.accounts.find((x) => x.platform === "meta").grade, "B");
  assert.deepEqual(eur.daily.map((p) => p.date), [FROM, "2025-03-02", TO]);
  assert.equal(eur.daily[0].platforms.meta.spend, 34.5);
  assert.equal(eur.daily[0].spend, round2(34.5 + 15.25 + 16.25));
  assert.equal(report.default_currency, "EUR");
  const other = await gw.tenant(["other.example"]);
  assert.equal((await api(other.api_key).get(`/api/v1/ads/campaigns/${c1.campaign_id}/metrics`)).status, 404);
});

const round2 = (x) => Math.round(x * 100) / 100;

test("Meta conversions count the action types the tenant chooses; an account without a currency takes the tenant's", async () => {
  const t = await gw.tenant(["actions.example"]);
  const a = api(t.api_key);
  await adsShape(gw, "1000000201", { campaigns: 1, leads: 1, currency: null });
  const meta = await connect(t.api_key, "meta", "1000000201");
  assert.equal(meta.currency, "EUR", "no currency from Meta: the tenant's default, not USD");
  const conversions = async () => {
    assert.equal((await a.post(`/api/v1/ads/sync/${meta.id}?from=${FROM}&to=${TO}`)).status, 200);
    return (await a.get(`/api/v1/ads/campaigns?from=${FROM}&to=${TO}`)).json.campaigns[0].conversions;
  };
  // Default: 2 purchases + 1 lead a day.
  assert.equal(await conversions(), 9);
  assert.equal((await a.put("/api/v1/ads/settings", { meta_conversion_actions: ["purchase"] })).status, 200);
  assert.equal(await conversions(), 6, "purchases only");
  assert.equal((await a.put("/api/v1/ads/settings", { meta_conversion_actions: ["lead", "offsite_conversion.fb_pixel_purchase"] })).status, 200);
  assert.equal(await conversions(), 9);

  assert.equal((await a.put("/api/v1/ads/settings", { default_currency: "CHF" })).status, 200);
  await adsShape(gw, "4000000201", { currency: null });
  const google = await connect(t.api_key, "google", "4000000201");
  assert.equal(google.currency, "CHF");
  // A currency the platform names always wins.
  const named = await connect(t.api_key, "meta", "1000000202");
  assert.equal(named.currency, "EUR");
});

test("alerts: low conversion rate, budget utilization and ROI below zero, each once in 24 h; thresholds are editable", async () => {
  const t = await gw.tenant(["alerts.example"]);
  const a = api(t.api_key);
  const hook = `${upstreamBase(gw)}/hooks/reports-alerts`;
  const th = await a.put("/api/v1/ads/alerts/thresholds", { notification_webhook_url: hook });
  assert.equal(th.status, 200, th.text);
  assert.deepEqual([th.json.thresholds.low_conversion_rate_percent, th.json.thresholds.budget_utilization_fraction, th.json.thresholds.min_roas,
    th.json.thresholds.high_value_conversion], [2.5, 0.85, 1, null]);
  // Every day: 20,000 impressions, 400 clicks, 45.00 spent, 4 purchases worth 30.00; 50.00 a day of budget.
  await adsShape(gw, "1000000301", { campaigns: 1, metrics: { impressions: 20000, clicks: 400, spend: "45.00", purchases: 4, value: "30.00" } });
  const meta = await connect(t.api_key, "meta", "1000000301");
  const s = await a.post(`/api/v1/ads/sync/${meta.id}?from=${day(-14)}&to=${day(-1)}`);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.result.alerts_sent, 4);
  const listed = (await a.get("/api/v1/ads/alerts")).json.alerts;
  const byKind = Object.fromEntries(listed.map((x) => [x.kind, x]));
  assert.deepEqual(Object.keys(byKind).sort(), ["budget_low", "budget_utilization", "low_conversion_rate", "negative_roi"]);
  assert.equal(byKind.low_conversion_rate.message, "Conversion rate 1.00 % over the last 7 days: 28 conversions from 2800 clicks (alert below 2.50 %)");
  assert.equal(byKind.negative_roi.message, "ROAS 0.67 over the last 7 days: 315.00 EUR spent for 210.00 EUR of conversion value (alert below 1.00)");
  assert.equal(byKind.budget_utilization.message, "90 % of the daily budget over the last 7 days used (315.00 of 350.00 EUR; alert above 85 %)");
  assert.ok(listed.every((x) => x.delivered === "sent"));
  const hooks = await gw.upstream("/hooks/reports-alerts");
  assert.equal(hooks.length, 1, "one message for the run");
  const payload = JSON.parse(hooks[0].body);
  assert.match(payload.text, /4 ads alert/);
  assert.ok(payload.blocks.some((b) => /\*ROI below zero\*/.test(b.text?.text || "")));
  assert.ok(payload.blocks.some((b) => /\*Low conversion rate\*/.test(b.text?.text || "")));
  assert.ok(payload.blocks.some((b) => /\*Budget utilization\*/.test(b.text?.text || "")));

  // The next sync finds the same: throttled for 24 h.
  const again = await a.post(`/api/v1/ads/sync/${meta.id}?from=${day(-14)}&to=${day(-1)}`);
  assert.equal(again.json.result.alerts_sent, 0);
  assert.equal((await gw.upstream("/hooks/reports-alerts")).length, 1);

  // Thresholds are editable (and validated); null switches a rule off.
  const edit = await a.put("/api/v1/ads/alerts/thresholds", { low_conversion_rate_percent: 0.5, min_roas: null, high_value_conversion: 1000 });
  assert.equal(edit.status, 200, edit.text);
  assert.deepEqual([edit.json.thresholds.low_conversion_rate_percent, edit.json.thresholds.min_roas, edit.json.thresholds.high_value_conversion], [0.5, null, 1000]);
  assert.equal(edit.json.thresholds.budget_utilization_fraction, 0.85, "others unchanged");
  for (const [body, field] of [[{ min_roas: -1 }, "min_roas"], [{ low_cvr: 1 }, "low_cvr"], [{ notification_webhook_url: "http://10.0.0.1/x" }, "notification_webhook_url"]]) {
    const r = await a.put("/api/v1/ads/alerts/thresholds", body);
    assert.deepEqual([r.status, r.json.error.field], [400, field]);
  }
});

test("daily account check: the account's status at its platform is stored and a disabled or unsettled account is notified once", async () => {
  const t = await gw.tenant(["status.example"]);
  const a = api(t.api_key);
  await a.put("/api/v1/ads/alerts/thresholds", { notification_webhook_url: `${upstreamBase(gw)}/hooks/status` });
  await adsShape(gw, "1000000401", { account_status: 3 });
  await adsShape(gw, "4000000401", { customer_status: "SUSPENDED" });
  const meta = await connect(t.api_key, "meta", "1000000401");
  assert.deepEqual([meta.account_status, meta.account_status_detail], ["unsettled", "account_status 3"], "read at connection");
  const google = await connect(t.api_key, "google", "4000000401");
  const healthy = await connect(t.api_key, "meta", "1000000402");

  const check = async (acct) => {
    const r = await a.post(`/api/v1/ads/sync/${acct.id}?kind=health_check`);
    assert.equal(r.status, 200, r.text);
    return r.json.result;
  };
  const m = await check(meta);
  assert.deepEqual([m.account_status, m.healthy, m.alerts_sent], ["unsettled", false, 1]);
  const g = await check(google);
  assert.deepEqual([g.account_status, g.account_status_detail, g.alerts_sent], ["disabled", "customer.status SUSPENDED", 1]);
  const h = await check(healthy);
  assert.deepEqual([h.account_status, h.healthy, h.alerts_sent], ["active", true, 0]);
  assert.equal((await check(meta)).alerts_sent, 0, "once a day while it lasts");

  const acct = (await a.get(`/api/v1/ads/accounts/${google.id}`)).json;
  assert.equal(acct.account_status, "disabled");
  assert.ok(acct.account_checked_at > Date.now() / 1000 - 60);
  const hooks = (await gw.upstream("/hooks/status")).map((x) => JSON.parse(x.body));
  assert.equal(hooks.length, 2);
  assert.match(hooks[0].blocks[1].text.text, /\*Ad account not active\*.*\n.*is unsettled at the platform \(account_status 3\)/s);
  assert.match(hooks[1].blocks[1].text.text, /is disabled at the platform \(customer\.status SUSPENDED\)/);
  const kinds = (await a.get("/api/v1/ads/alerts")).json.alerts.map((x) => x.kind);
  assert.deepEqual(kinds, ["account_status", "account_status"]);
});

test("audience members added, removed and replaced; the Monday job replaces both platforms' lists, with Google's consent and outcome", async () => {
  const t = await gw.tenant(["audience.example"]);
  const a = api(t.api_key);
  await a.put("/api/v1/ads/settings", { customer_match_consent: { ad_user_data: true, ad_personalization: false } });
  const meta = await connect(t.api_key, "meta", "1000000501");
  const google = await connect(t.api_key, "google", "4000000501");
  const m = await a.post("/api/v1/ads/audiences", { name: "Clientes", ads_account_id: meta.id,
    members: [{ email: "a@example.com" }, { email: "b@example.com" }, { phone: "+34 600 000 001" }] });
  assert.equal(m.status, 201, m.text);
  const g = await a.post("/api/v1/ads/audiences", { name: "Clientes G", ads_account_id: google.id, members: [{ email: "a@example.com" }, { email: "c@example.com" }] });
  assert.equal(g.status, 201, g.text);

  // PATCH: add one new and one already there; remove one.
  const patched = await a.patch(`/api/v1/ads/audiences/${m.json.id}/members`, {
    add: [{ email: "d@example.com" }, { email: " A@Example.com " }, { email: "not-an-email" }], remove: [{ email: "b@example.com" }] });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual([patched.json.previous_member_count, patched.json.added, patched.json.removed, patched.json.member_count], [3, 1, 1, 3]);
  assert.deepEqual(patched.json.issues.map((i) => i.field), ["add[2].email"]);
  assert.ok(!patched.text.includes("@example.com"), "no raw email in the answer");
  const empty = await a.patch(`/api/v1/ads/audiences/${m.json.id}/members`, {});
  assert.deepEqual([empty.status, empty.json.error.field], [400, "add"]);
  const badCountry = await a.patch(`/api/v1/ads/audiences/${m.json.id}/members`, { add: [{ phone: "600000002" }], default_country: "Spain" });
  assert.deepEqual([badCountry.status, badCountry.json.error.field], [400, "default_country"]);
  // A phone removal removes the member by its number, however it is written.
  const byPhone = await a.patch(`/api/v1/ads/audiences/${m.json.id}/members`, { remove: [{ phone: "600 000 001" }], add: [{ phone: "600 000 002" }], default_country: "ES" });
  assert.deepEqual([byPhone.json.added, byPhone.json.removed, byPhone.json.member_count], [1, 1, 3]);

  // PUT: the Google list becomes exactly these.
  const put = await a.put(`/api/v1/ads/audiences/${g.json.id}/members`, { members: [{ email: "e@example.com" }, { phone: "+1 650 555 0101" }] });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.member_count, 2);
  const listed = (await a.get(`/api/v1/ads/audiences/${g.json.id}`)).json;
  assert.deepEqual([listed.member_count, listed.sync_status, listed.platform, listed.account_name], [2, "pending", "google", "Fake Google 4000000501"]);
  assert.ok(listed.members_changed_at > 0);

  // The Monday 03:00 job of the Meta account, run now: the list replaced with the current members.
  const mon = await a.post(`/api/v1/ads/sync/${meta.id}?kind=audience_sync`);
  assert.equal(mon.status, 200, mon.text);
  const audienceId = (await a.get(`/api/v1/ads/audiences/${m.json.id}`)).json.platform_audience_id;
  const sessions = (await gw.upstream(`/v24.0/${audienceId}/usersreplace`)).map((r) => JSON.parse(r.body));
  assert.equal(sessions.length, 1);
  assert.deepEqual(sessions[0].payload.data.map((row) => row.join("|")).sort(),
    [[sha256("a@example.com"), ""], [sha256("d@example.com"), ""], ["", sha256("34600000002")]].map((row) => row.join("|")).sort());
  const mAud = (await a.get(`/api/v1/ads/audiences/${m.json.id}`)).json;
  assert.deepEqual([mAud.sync_status, mAud.platform_size], ["synced", 2], "Meta's size estimate (its lower bound)");

  // The Google account's Monday job, on the Scheduler's alarm.
  const scheduled = await a.post(`/api/v1/ads/sync/${google.id}?kind=audience_sync&delay=1`);
  assert.equal(scheduled.status, 202, scheduled.text);
  const ops = await waitFor(async () => {
    const r = (await gw.upstream("/v22/customers/4000000501/offlineUserDataJobs/")).filter((x) => x.path.endsWith(":addOperations"));
    return r.length ? r : null;
  }, { what: "the alarm-driven Customer Match upload" });
  const body = JSON.parse(ops[0].body);
  assert.deepEqual(body.operations[0], { removeAll: true });
  assert.deepEqual(body.operations.slice(1), [{ create: { userIdentifiers: [{ hashedEmail: sha256("e@example.com") }] } },
    { create: { userIdentifiers: [{ hashedPhoneNumber: sha256("+16505550101") }] } }]);
  const job = JSON.parse((await gw.upstream("/v22/customers/4000000501/offlineUserDataJobs:create"))[0].body);
  assert.deepEqual(job.job.customerMatchUserListMetadata.consent, { adUserData: "GRANTED", adPersonalization: "DENIED" });
  const gAud = await waitFor(async () => {
    const x = (await a.get(`/api/v1/ads/audiences/${g.json.id}`)).json;
    return x.platform_job_status === "success" ? x : null;
  }, { what: "the job's outcome polled and stored" });
  assert.deepEqual([gAud.sync_status, gAud.match_rate, gAud.platform_size, gAud.upload_errors], ["synced", "41-50 %", 1, 0]);
  assert.match(gAud.platform_job, /^customers\/4000000501\/offlineUserDataJobs\/\d+$/);

  // A lookalike's members are the platform's.
  const lal = await a.post(`/api/v1/ads/audiences/${m.json.id}/lookalike`, { country: "ES", ratio: 0.01 });
  assert.equal(lal.status, 201, lal.text);
  const lalEdit = await a.patch(`/api/v1/ads/audiences/${lal.json.id}/members`, { add: [{ email: "x@example.com" }] });
  assert.equal(lalEdit.status, 409);
  assert.equal((await a.patch("/api/v1/ads/audiences/nope/members", { add: [{ email: "x@example.com" }] })).status, 404);
});

test("a login reaching several accounts: the person picks them by Business Manager or manager account", async () => {
  const t = await gw.tenant(["pick.example"]);
  const a = api(t.api_key);
  const { cb } = await connectWith(gw, t.api_key, "meta");
  assert.equal(cb.status, 200, cb.text);
  const pending = cb.json.pending_grant;
  assert.ok(pending && !cb.json.connected, "nothing connected before the pick");
  assert.deepEqual(pending.accounts.map((x) => [x.account_id, x.parent?.name ?? null]),
    [["1111111111", "Acme Business"], ["1111111112", "Acme Business"], ["1111111113", null]]);
  assert.ok(!cb.text.includes("EAA"), "no token in the answer");
  assert.equal((await a.get("/api/v1/ads/accounts")).json.accounts.length, 0);
  const grants = (await a.get("/api/v1/ads/oauth/grants")).json.grants;
  assert.deepEqual(grants.map((g) => [g.id, g.platform, g.accounts.length]), [[pending.id, "meta", 3]]);
  const other = await gw.tenant(["pick-other.example"]);
  assert.equal((await api(other.api_key).post(`/api/v1/ads/oauth/grants/${pending.id}`, { account_ids: ["1111111111"] })).status, 404);
  const wrong = await a.post(`/api/v1/ads/oauth/grants/${pending.id}`, { account_ids: ["1111111111", "999"] });
  assert.deepEqual([wrong.status, wrong.json.error.field], [400, "account_ids[1]"]);
  const none = await a.post(`/api/v1/ads/oauth/grants/${pending.id}`, { account_ids: [] });
  assert.deepEqual([none.status, none.json.error.field], [400, "account_ids"]);
  const picked = await a.post(`/api/v1/ads/oauth/grants/${pending.id}`, { account_ids: ["1111111111", "1111111112"] });
  assert.equal(picked.status, 200, picked.text);
  assert.deepEqual(picked.json.connected.map((x) => [x.account_id, x.name, x.status]), [["1111111111", "Acme ES", "active"], ["1111111112", "Acme PT", "active"]]);
  assert.equal((await a.post(`/api/v1/ads/oauth/grants/${pending.id}`, { account_ids: ["1111111113"] })).status, 404, "single use");
  const jobs = (await a.get(`/api/v1/ads/accounts/${picked.json.connected[0].id}`)).json.jobs;
  assert.equal(jobs.length, 5, "the picked accounts' jobs are registered");

  // Google: the manager account's clients are offered (the manager itself has no campaigns).
  await adsShape(gw, "accessible", { customers: ["7000000001", "2222222222"] });
  const g = (await connectWith(gw, t.api_key, "google")).cb.json.pending_grant;
  assert.deepEqual(g.accounts.map((x) => [x.account_id, x.parent?.id ?? null]),
    [["7000000011", "7000000001"], ["7000000012", "7000000001"], ["2222222222", null]]);
  const gPicked = await a.post(`/api/v1/ads/oauth/grants/${g.id}`, { account_ids: ["7000000011"] });
  assert.equal(gPicked.status, 200, gPicked.text);
  const client = gPicked.json.connected[0];
  assert.deepEqual([client.account_id, client.login_customer_id, client.currency], ["7000000011", "7000000001", "EUR"]);
  assert.equal((await a.post(`/api/v1/ads/sync/${client.id}?from=${FROM}&to=${TO}`)).status, 200);
  const used = (await gw.upstream("/v22/customers/7000000011/googleAds:searchStream")).at(-1);
  assert.equal(used.headers["login-customer-id"], "7000000001", "reached through its manager");

  const third = (await connectWith(gw, t.api_key, "meta")).cb.json.pending_grant;
  assert.equal((await gw.req("DELETE", `/api/v1/ads/oauth/grants/${third.id}`, { token: t.api_key })).status, 200);
  assert.equal((await a.get("/api/v1/ads/oauth/grants")).json.grants.length, 0);
});
