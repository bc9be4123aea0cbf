// Ads accounts in real workerd: OAuth against the fake, Scheduler DO (alarms), metrics
// sync with pagination, KPIs, idempotent reruns, failure notification, alerts, audiences.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sha256, sleep, ADMIN_TOKEN } from "./harness.mjs";
import { connect as connectWith, form, oauthCookie, adsShape as shapeOf, round4, upstreamBase } from "./ads-helpers.mjs";

let gw, shop, meta, google;
const FROM = "2025-03-01", TO = "2025-03-03";
const up = () => upstreamBase(gw);

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
});
after(async () => { await gw?.stop(); });

const adsShape = (account, shape) => shapeOf(gw, account, shape);
const connect = (...args) => connectWith(gw, ...args);

async function sync(apiKey, account, query = `from=${FROM}&to=${TO}`) {
  return gw.req("POST", `/api/v1/ads/sync/${account.id}?${query}`, { token: apiKey });
}

async function metrics(apiKey, query = `from=${FROM}&to=${TO}`) {
  const r = await gw.req("GET", `/api/v1/ads/metrics?${query}`, { token: apiKey });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("OAuth start → callback connects Meta and Google accounts; state is single-use and tamper-proof", async () => {
  const denied = await gw.req("GET", "/api/v1/ads/oauth/meta/start");
  assert.equal(denied.status, 401);
  const bad = await gw.req("GET", "/api/v1/ads/oauth/meta/start?account_id=act_x1", { token: shop.api_key });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "account_id");

  const { start, state, cb, cookie } = await connect(shop.api_key, "meta", "act_1000000001");
  const url = new URL(start.json.authorize_url);
  assert.equal(url.origin + url.pathname, `${up()}/v24.0/dialog/oauth`);
  assert.equal(url.searchParams.get("client_id"), "fake-meta-app");
  assert.equal(url.searchParams.get("scope"), "ads_read,ads_management,pages_show_list,pages_read_engagement,pages_manage_metadata,leads_retrieval");
  assert.equal(url.searchParams.get("redirect_uri"), `${gw.base}/api/v1/ads/oauth/meta/callback`);
  assert.equal(cb.status, 200, cb.text);
  assert.equal(cb.json.connected.length, 1);
  meta = cb.json.connected[0];
  assert.deepEqual([meta.platform, meta.account_id, meta.currency, meta.status], ["meta", "1000000001", "EUR", "active"]);
  assert.ok(meta.token_expires_at > Date.now() / 1000 + 50 * 86400, "long-lived (~60 day) token");
  assert.ok(!cb.text.includes("EAA"), "tokens never returned");

  // The code was exchanged, then the short-lived token for a long-lived one; secrets in bodies only.
  const tokenCalls = await gw.upstream("/v24.0/oauth/access_token");
  assert.equal(tokenCalls.length, 2);
  assert.equal(new URLSearchParams(tokenCalls[0].body).get("code"), "authcode");
  assert.equal(new URLSearchParams(tokenCalls[1].body).get("grant_type"), "fb_exchange_token");
  assert.equal(new URLSearchParams(tokenCalls[1].body).get("fb_exchange_token"), "EAAshort-authcode");
  assert.ok(tokenCalls.every((r) => !JSON.stringify(r.query).includes("secret")));

  // Single use: the same state again is refused, so is a tampered one.
  const replay = await gw.req("GET", `/api/v1/ads/oauth/meta/callback?code=authcode&state=${encodeURIComponent(state)}`, { headers: { cookie } });
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error.code, "invalid_state");
  const replayConfirm = await gw.req("POST", "/api/v1/ads/oauth/meta/confirm", { headers: form({ cookie }), body: new URLSearchParams({ state, code: "authcode" }).toString() });
  assert.equal(replayConfirm.status, 400);
  assert.equal(replayConfirm.json.error.code, "invalid_state");
  const tampered = await gw.req("GET", `/api/v1/ads/oauth/meta/callback?code=x&state=${encodeURIComponent(state.slice(0, -2) + "AA")}`);
  assert.equal(tampered.status, 400);
  const wrongPlatform = await connect(shop.api_key, "meta", "1000000009");
  const cross = await gw.req("GET", `/api/v1/ads/oauth/google/callback?code=x&state=${encodeURIComponent(wrongPlatform.state)}`);
  assert.equal(cross.status, 400);

  const g = await connect(shop.api_key, "google", "222-222-3333");
  assert.equal(g.cb.status, 200, g.cb.text);
  google = g.cb.json.connected[0];
  assert.deepEqual([google.platform, google.account_id, google.currency], ["google", "2222223333", "EUR"]);
  const gTok = (await gw.upstream("/token"))[0];
  assert.equal(new URLSearchParams(gTok.body).get("grant_type"), "authorization_code");
  const consent = new URL(g.start.json.authorize_url);
  assert.equal(consent.pathname, "/o/oauth2/v2/auth");
  assert.equal(consent.searchParams.get("access_type"), "offline");

  const list = await gw.req("GET", "/api/v1/ads/accounts", { token: shop.api_key });
  assert.deepEqual(list.json.accounts.map((a) => a.account_id).sort(), ["1000000001", "1000000009", "2222223333"]);
  const one = await gw.req("GET", `/api/v1/ads/accounts/${meta.id}`, { token: shop.api_key });
  assert.deepEqual(one.json.jobs.map((j) => j.kind).sort(), ["audience_sync", "daily_metrics_sync", "health_check", "intraday_refresh", "token_refresh"]);
  const gJobs = (await gw.req("GET", `/api/v1/ads/accounts/${google.id}`, { token: shop.api_key })).json.jobs;
  assert.equal(gJobs.length, 4, "Google tokens are refreshed on demand: no token_refresh job");
  const daily = one.json.jobs.find((j) => j.kind === "daily_metrics_sync");
  assert.equal(new Date(daily.next_run * 1000).getUTCHours(), 6, "daily sync at 06:00 UTC");

  // Removing an account removes its jobs.
  const extra = list.json.accounts.find((a) => a.account_id === "1000000009");
  assert.equal((await gw.req("DELETE", `/api/v1/ads/accounts/${extra.id}`, { token: shop.api_key })).status, 200);
  assert.equal((await gw.req("GET", `/api/v1/ads/accounts/${extra.id}`, { token: shop.api_key })).status, 404);

  const other = await gw.tenant(["other.example"]);
  assert.equal((await gw.req("GET", `/api/v1/ads/accounts/${meta.id}`, { token: other.api_key })).status, 404);
  assert.equal((await sync(other.api_key, meta)).status, 404);
});

test("OAuth is bound to the browser that started it; the person sees the tenant and confirms before tokens are stored", async () => {
  // The attacker's tenant (its name is theirs to choose: it is shown escaped).
  const made = await gw.req("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { name: "Mallory <b>Ads</b> & Co", domains: ["mallory.example"] } });
  assert.equal(made.status, 201, made.text);
  const mallory = made.json;
  const start = await gw.req("GET", "/api/v1/ads/oauth/meta/start?account_id=1000000077", { token: mallory.api_key });
  assert.equal(start.status, 200, start.text);
  const set = start.headers.getSetCookie().find((c) => /^(__Host-)?pg_oauth_meta=/.test(c));
  assert.ok(set, "start sets the browser-binding cookie");
  assert.match(set, /; HttpOnly/);
  assert.match(set, /; SameSite=Lax/);
  assert.match(set, /; Path=\//);
  const cookie = set.split(";")[0];
  const state = new URL(start.json.authorize_url).searchParams.get("state");
  const cb = (headers = {}) => gw.req("GET", `/api/v1/ads/oauth/meta/callback?code=victimcode&state=${encodeURIComponent(state)}`, { headers });
  const exchanges = async () => (await gw.upstream("/v24.0/oauth/access_token")).length;
  const before = await exchanges();

  // The victim's browser, sent the attacker's authorize URL, comes back without the cookie.
  const victim = await cb();
  assert.equal(victim.status, 403, victim.text);
  assert.equal(victim.json.error.code, "oauth_browser_mismatch");
  // A cookie from another flow (the victim's own start) does not match this state either.
  const own = await gw.req("GET", "/api/v1/ads/oauth/meta/start", { token: shop.api_key });
  const other = own.headers.getSetCookie().find((c) => /pg_oauth_meta=/.test(c)).split(";")[0];
  assert.equal((await cb({ cookie: other })).status, 403);
  // A forged cookie value neither.
  assert.equal((await cb({ cookie: cookie.replace(/=.*/, "=AAAA") })).status, 403);
  assert.equal(await exchanges(), before, "no code was exchanged");

  // The browser that started the flow sees which tenant it is connecting, and nothing is stored yet.
  const page = await cb({ cookie });
  assert.equal(page.status, 200, page.text);
  assert.match(page.headers.get("content-type"), /^text\/html/);
  assert.ok(page.text.includes("Mallory &lt;b&gt;Ads&lt;/b&gt; &amp; Co"), "the tenant's name, escaped");
  assert.ok(!page.text.includes("<b>Ads</b>"));
  assert.match(page.text, /<form method="post" action="confirm"/);
  assert.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.match(page.headers.get("cache-control"), /no-store/);
  assert.equal(await exchanges(), before, "nothing exchanged before the person confirms");
  assert.equal((await gw.req("GET", "/api/v1/ads/accounts", { token: mallory.api_key })).json.accounts.length, 0);

  // Confirming needs the cookie too (a cross-site form post does not carry a SameSite=Lax cookie).
  const body = new URLSearchParams({ state, code: "victimcode" }).toString();
  const forged = await gw.req("POST", "/api/v1/ads/oauth/meta/confirm", { headers: form({}), body });
  assert.equal(forged.status, 403);
  assert.equal(await exchanges(), before);
  const done = await gw.req("POST", "/api/v1/ads/oauth/meta/confirm", { headers: form({ cookie, accept: "text/html" }), body });
  assert.equal(done.status, 200, done.text);
  assert.match(done.headers.get("content-type"), /^text\/html/);
  assert.ok(done.text.includes("Mallory &lt;b&gt;Ads&lt;/b&gt; &amp; Co"));
  assert.ok(done.headers.getSetCookie().some((c) => /pg_oauth_meta=;.*Max-Age=0/.test(c)), "the cookie is cleared");
  const accounts = (await gw.req("GET", "/api/v1/ads/accounts", { token: mallory.api_key })).json.accounts;
  assert.deepEqual(accounts.map((a) => a.account_id), ["1000000077"]);
});

test("sync: Meta campaigns + insights with pagination and Google searchStream → D1 rows and exact KPIs; rerun does not double count", async () => {
  const hook = `${up()}/hooks/shop-alerts`;
  const put = await gw.req("PUT", "/api/v1/ads/alerts/thresholds", { token: shop.api_key, body: { notification_webhook_url: hook, high_cpc: 5 } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.thresholds.high_cpc, 5);
  assert.equal(put.json.thresholds.budget_remaining_fraction, 0.2, "unspecified thresholds keep their defaults");

  const m = await sync(shop.api_key, meta);
  assert.equal(m.status, 200, m.text);
  assert.equal(m.json.ok, true);
  assert.deepEqual([m.json.result.campaigns, m.json.result.rows, m.json.result.calls], [3, 9, 4]);
  const insights = await gw.upstream("/v24.0/act_1000000001/insights");
  assert.equal(insights.length, 3, "9 rows in pages of 4");
  assert.deepEqual(insights.map((r) => r.query.after ?? null), [null, "NA", "OA"], "followed the page-2 and page-3 cursors");
  assert.equal(JSON.parse(insights[0].query.time_range).since, FROM);
  assert.equal(insights[0].query.level, "campaign");
  assert.equal(insights[0].query.time_increment, "1");
  assert.match(insights[0].headers.authorization, /^Bearer EAAlong-/);
  assert.ok(!insights[0].path.includes("EAA") && !JSON.stringify(insights[0].query).includes("EAA"), "token only in the header");

  const g = await sync(shop.api_key, google);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual([g.json.result.campaigns, g.json.result.rows], [2, 6]);
  const stream = (await gw.upstream("/v22/customers/2222223333/googleAds:searchStream")).at(-1);
  assert.equal(stream.headers["developer-token"], "fake-dev-token");
  assert.match(stream.headers.authorization, /^Bearer ya29\.fake-/);
  assert.match(JSON.parse(stream.body).query, /BETWEEN '2025-03-01' AND '2025-03-03'/);

  const report = await metrics(shop.api_key);
  assert.equal(report.rows, 15);
  assert.equal(report.currencies.length, 1);
  const eur = report.currencies[0];
  assert.equal(eur.currency, "EUR");
  // Meta: 3 campaigns × 3 days; Google: 2 campaigns × 3 days (formulas in scripts/fake-upstream.mjs).
  const t = eur.totals;
  assert.deepEqual([t.impressions, t.clicks, t.spend, t.conversions, t.conversion_value], [23400, 459, 198, 27, 838.5]);
  assert.equal(t.ctr_percent, round4(459 / 23400 * 100));
  assert.equal(t.cpc, round4(198 / 459));
  assert.equal(t.cpm, round4(198 / 23400 * 1000));
  assert.equal(t.conversion_rate_percent, round4(27 / 459 * 100));
  assert.equal(t.cpa, round4(198 / 27));
  assert.equal(t.roas, round4(838.5 / 198));
  const byPlatform = Object.fromEntries(eur.platforms.map((p) => [p.platform, p]));
  assert.deepEqual([byPlatform.meta.spend, byPlatform.meta.impressions, byPlatform.meta.conversions], [103.5, 9900, 18]);
  assert.deepEqual([byPlatform.google.spend, byPlatform.google.clicks, byPlatform.google.conversion_value], [94.5, 270, 271.5]);
  assert.equal(eur.campaigns.length, 5);
  assert.equal(eur.campaigns[0].campaign_name, "Google campaign 2", "highest spend first");
  assert.equal(eur.campaigns[0].spend, 48.75);

  // Reruns (same days) overwrite: the report is identical.
  assert.equal((await sync(shop.api_key, meta)).status, 200);
  assert.equal((await sync(shop.api_key, google)).status, 200);
  assert.deepEqual(await metrics(shop.api_key), report);

  const metaOnly = await metrics(shop.api_key, `from=${FROM}&to=${TO}&platform=meta`);
  assert.equal(metaOnly.currencies[0].totals.impressions, 9900);
  const bad = await gw.req("GET", "/api/v1/ads/metrics?from=2025-13-01", { token: shop.api_key });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "from");
  const spend = await gw.req("GET", "/api/v1/ads/spend", { token: shop.api_key });
  assert.equal(spend.status, 200);
  assert.match(spend.json.period, /^\d{4}-\d{2}$/);
});

test("budget alert: sent to the webhook once, not repeated within 24 h", async () => {
  const hooks = await gw.upstream("/hooks/shop-alerts");
  // Two Meta syncs ran: campaign 1 has 5.00 of 50.00 left (10 % < 20 %): one alert only.
  assert.equal(hooks.length, 1, JSON.stringify(hooks.map((h) => h.body)));
  const payload = JSON.parse(hooks[0].body);
  assert.match(payload.text, /1 ads alert/);
  assert.equal(payload.blocks[0].type, "header");
  assert.match(payload.blocks[1].text.text, /Budget almost spent.*Meta campaign 1/s);
  assert.match(payload.blocks[1].text.text, /10 % of the budget left \(5\.00 of 50\.00 EUR\)/);
  assert.equal((await sync(shop.api_key, meta)).status, 200);
  assert.equal((await gw.upstream("/hooks/shop-alerts")).length, 1, "third sync: still throttled");
  const alerts = await gw.req("GET", "/api/v1/ads/alerts", { token: shop.api_key });
  const budget = alerts.json.alerts.filter((a) => a.kind === "budget_low");
  assert.equal(budget.length, 1);
  assert.deepEqual([budget[0].campaign_name, budget[0].delivered, budget[0].account_id], ["Meta campaign 1", "sent", "1000000001"]);
  assert.equal(alerts.json.notification_webhook_url, `${up()}/hooks/shop-alerts`);
});

test("3 consecutive failures → notification webhook exactly once, account in error; recovery reactivates", async () => {
  const t2 = await gw.tenant(["t2.example"]);
  await gw.req("PUT", "/api/v1/ads/alerts/thresholds", { token: t2.api_key, body: { notification_webhook_url: `${up()}/hooks/t2`, budget_remaining_fraction: null } });
  const acct = (await connect(t2.api_key, "meta", "1000000002")).cb.json.connected[0];
  const err = { status: 500, body: { error: { message: "An unknown error occurred", type: "OAuthException", code: 2, is_transient: true, fbtrace_id: "X" } } };
  await gw.script("/v24.0/act_1000000002/insights", [err, err, err, err]);
  for (let i = 1; i <= 4; i++) {
    const r = await sync(t2.api_key, acct);
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error.code, "sync_failed");
    assert.equal(r.json.job.consecutive_errors, i);
    const a = (await gw.req("GET", `/api/v1/ads/accounts/${acct.id}`, { token: t2.api_key })).json;
    assert.equal(a.status, i >= 3 ? "error" : "active", `after failure ${i}`);
    assert.ok(a.last_error);
  }
  const hooks = await gw.upstream("/hooks/t2");
  assert.equal(hooks.length, 1, "notified once, after the third failure");
  const body = JSON.parse(hooks[0].body);
  assert.match(body.blocks[1].text.text, /Ads sync failing/);
  assert.match(body.blocks[1].text.text, /failed 3 time\(s\) in a row/);
  const listed = (await gw.req("GET", "/api/v1/ads/alerts", { token: t2.api_key })).json.alerts;
  assert.deepEqual(listed.map((a) => a.kind), ["sync_failing"]);

  // The platform recovers: the next run succeeds and the account is active again.
  const ok = await sync(t2.api_key, acct);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.job.consecutive_errors, 0);
  const a = (await gw.req("GET", `/api/v1/ads/accounts/${acct.id}`, { token: t2.api_key })).json;
  assert.deepEqual([a.status, a.last_error], ["active", null]);
  assert.equal((await gw.upstream("/hooks/t2")).length, 1);
});

test("the Scheduler DO alarm runs a due job; the cron only wakes schedulers", async () => {
  const before = (await gw.upstream("/v22/customers/2222223333/googleAds:searchStream")).length;
  const requestedAt = Math.floor(Date.now() / 1000);
  const r = await gw.req("POST", `/api/v1/ads/sync/${google.id}?delay=1`, { token: shop.api_key });
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => (await gw.upstream("/v22/customers/2222223333/googleAds:searchStream")).length > before, { what: "alarm-driven searchStream" });
  const account = await waitFor(async () => {
    const a = (await gw.req("GET", `/api/v1/ads/accounts/${google.id}`, { token: shop.api_key })).json;
    const job = a.jobs.find((j) => j.kind === "daily_metrics_sync");
    return job.last_run >= requestedAt && job.next_run > job.last_run ? a : null;
  }, { what: "job bookkept after the alarm" });
  const job = account.jobs.find((j) => j.kind === "daily_metrics_sync");
  // The next regular run is the first 06:00 UTC after this run (whatever the wall clock says now).
  const nextSix = new Date(job.last_run * 1000);
  nextSix.setUTCHours(6, 0, 0, 0);
  if (nextSix.getTime() <= job.last_run * 1000) nextSix.setUTCDate(nextSix.getUTCDate() + 1);
  assert.equal(job.next_run, nextSix.getTime() / 1000);
  assert.equal(job.consecutive_errors, 0);

  const cron = await fetch(`${gw.base}/__scheduled?cron=${encodeURIComponent("0 * * * *")}`);
  assert.equal(cron.status, 200);
  await waitFor(() => /ads: woke \d+ scheduler/.test(gw.log()), { what: "cron wake log" });
});

test("audience replace: 25,000 hashed members → 3 Meta usersreplace batches in one session; lookalike; Google Customer Match", async () => {
  const members = Array.from({ length: 25000 }, (_, i) => ({ email: `User${i}@Example.com ` }));
  members.push({ email: "user0@example.com" }, { email: "not-an-email" }, { phone: "+34 600 000 001" });
  const created = await gw.req("POST", "/api/v1/ads/audiences", { token: shop.api_key, body: { name: "Buyers", ads_account_id: meta.id, members } });
  assert.equal(created.status, 201, created.text.slice(0, 500));
  assert.deepEqual([created.json.member_count, created.json.duplicates, created.json.rejected], [25001, 1, 1]);
  assert.ok(!created.text.includes("@example.com"));

  const t0 = Date.now();
  const synced = await gw.req("POST", `/api/v1/ads/audiences/${created.json.id}/sync`, { token: shop.api_key });
  assert.equal(synced.status, 200, synced.text);
  console.log(`# audience replace of 25,001 members: ${Date.now() - t0} ms`);
  const made = (await gw.upstream("/v24.0/act_1000000001/customaudiences")).map((r) => JSON.parse(r.body));
  assert.deepEqual([made.length, made[0].subtype, made[0].customer_file_source], [1, "CUSTOM", "USER_PROVIDED_ONLY"]);
  const audienceId = synced.json.audience.platform_audience_id;
  const batches = (await gw.upstream(`/v24.0/${audienceId}/usersreplace`)).map((r) => JSON.parse(r.body));
  assert.equal(batches.length, 3);
  assert.deepEqual(batches.map((b) => b.session.batch_seq), [1, 2, 3]);
  assert.deepEqual(batches.map((b) => b.session.last_batch_flag), [false, false, true]);
  assert.deepEqual(batches.map((b) => b.payload.data.length), [10000, 10000, 5001]);
  assert.equal(new Set(batches.map((b) => b.session.session_id)).size, 1, "one session");
  assert.ok(batches.every((b) => b.session.estimated_num_total === 25001));
  assert.deepEqual(batches[0].payload.schema, ["EMAIL", "PHONE"]);
  assert.deepEqual(batches[0].payload.data[0], [sha256("user0@example.com"), ""]);
  assert.deepEqual(batches[2].payload.data.at(-1), ["", sha256("34600000001")]);
  assert.ok(!JSON.stringify(batches).includes("@example.com"), "only hashes leave");

  const list = (await gw.req("GET", "/api/v1/ads/audiences", { token: shop.api_key })).json.audiences;
  const aud = list.find((a) => a.id === created.json.id);
  assert.deepEqual([aud.sync_status, aud.member_count, aud.last_sync_result.batches, aud.last_sync_result.num_received], ["synced", 25001, 3, 25001]);

  // Replace again: same Meta audience, a new session.
  assert.equal((await gw.req("POST", `/api/v1/ads/audiences/${created.json.id}/sync`, { token: shop.api_key })).status, 200);
  const again = (await gw.upstream(`/v24.0/${audienceId}/usersreplace`)).map((r) => JSON.parse(r.body));
  assert.equal(again.length, 6);
  assert.notEqual(again[3].session.session_id, again[0].session.session_id);
  assert.equal((await gw.upstream("/v24.0/act_1000000001/customaudiences")).length, 1, "audience reused");

  const badRatio = await gw.req("POST", `/api/v1/ads/audiences/${created.json.id}/lookalike`, { token: shop.api_key, body: { country: "es", ratio: 0.5 } });
  assert.equal(badRatio.status, 400);
  assert.equal(badRatio.json.error.field, "ratio");
  const lal = await gw.req("POST", `/api/v1/ads/audiences/${created.json.id}/lookalike`, { token: shop.api_key, body: { country: "es", ratio: 0.05 } });
  assert.equal(lal.status, 201, lal.text);
  assert.equal(lal.json.kind, "lookalike");
  const lalReq = JSON.parse((await gw.upstream("/v24.0/act_1000000001/customaudiences")).at(-1).body);
  assert.deepEqual([lalReq.subtype, lalReq.origin_audience_id, lalReq.lookalike_spec], ["LOOKALIKE", audienceId, { country: "ES", ratio: 0.05 }]);

  // Google Customer Match: user list, job, removeAll first, run.
  const gAud = await gw.req("POST", "/api/v1/ads/audiences", { token: shop.api_key, body: { name: "G buyers", ads_account_id: google.id, members: [{ email: "a.b@gmail.com" }, { phone: "+1 650 555 0100" }] } });
  assert.equal(gAud.status, 201, gAud.text);
  const gSync = await gw.req("POST", `/api/v1/ads/audiences/${gAud.json.id}/sync`, { token: shop.api_key });
  assert.equal(gSync.status, 200, gSync.text);
  assert.equal((await gw.upstream("/v22/customers/2222223333/userLists:mutate")).length, 1);
  const ops = (await gw.upstream("/v22/customers/2222223333/offlineUserDataJobs/")).filter((r) => r.path.endsWith(":addOperations"));
  const opBody = JSON.parse(ops[0].body);
  assert.deepEqual(opBody.operations[0], { removeAll: true });
  assert.deepEqual(opBody.operations[1], { create: { userIdentifiers: [{ hashedEmail: sha256("ab@gmail.com") }] } });
  assert.deepEqual(opBody.operations[2], { create: { userIdentifiers: [{ hashedPhoneNumber: sha256("+16505550100") }] } });
  assert.equal((await gw.upstream("/v22/customers/2222223333/offlineUserDataJobs/")).filter((r) => r.path.endsWith(":run")).length, 1);
});

test("Meta token refresh job exchanges the long-lived token; Google access tokens refresh before a call; 429 waits for the hint", async () => {
  const before = (await gw.upstream("/v24.0/oauth/access_token")).length;
  const r = await sync(shop.api_key, meta, "kind=token_refresh");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.refreshed, true);
  const calls = await gw.upstream("/v24.0/oauth/access_token");
  assert.equal(calls.length, before + 1);
  const form = new URLSearchParams(calls.at(-1).body);
  assert.equal(form.get("grant_type"), "fb_exchange_token");
  assert.match(form.get("fb_exchange_token"), /^EAAlong-/);
  const job = r.json.job;
  assert.ok(job.next_run > Date.now() / 1000 + 50 * 86400, "next refresh 7 days before the new expiry");

  const t4 = await gw.tenant(["t4.example"]);
  const g = (await connect(t4.api_key, "google", "3333333333", { code: "short-lived" })).cb.json.connected[0];
  const refreshesBefore = (await gw.upstream("/token")).filter((q) => new URLSearchParams(q.body).get("grant_type") === "refresh_token").length;
  const s = await sync(t4.api_key, g);
  assert.equal(s.status, 200, s.text);
  const refreshes = (await gw.upstream("/token")).filter((q) => new URLSearchParams(q.body).get("grant_type") === "refresh_token");
  assert.equal(refreshes.length, refreshesBefore + 1);
  assert.equal(new URLSearchParams(refreshes.at(-1).body).get("refresh_token"), "1//fake-refresh-short-lived");
  const used = (await gw.upstream("/v22/customers/3333333333/googleAds:searchStream")).at(-1);
  assert.match(used.headers.authorization, /^Bearer ya29\.fake-r/, "the refreshed token was used");

  await gw.script("/v22/customers/3333333333/googleAds:searchStream", [{ status: 429, body: { error: { code: 429, message: "Resource has been exhausted", status: "RESOURCE_EXHAUSTED",
    details: [{ "@type": "type.googleapis.com/google.ads.googleads.v17.errors.GoogleAdsFailure", errors: [{ errorCode: { quotaError: "RESOURCE_EXHAUSTED" }, message: "Too many requests", details: { quotaErrorDetails: { retryDelay: "120s" } } }] }] } } }]);
  const limited = await sync(t4.api_key, g);
  assert.equal(limited.status, 502, limited.text);
  assert.equal(limited.json.error.code, "rate_limited");
  const now = Date.now() / 1000;
  assert.ok(Math.abs(limited.json.job.next_run - (now + 120)) < 10, "retry after Google's retryDelay");
});

test("timing: one tenant's sync of 50 campaigns × 30 days (Meta and Google)", async () => {
  const t3 = await gw.tenant(["t3.example"]);
  await adsShape("1000000050", { campaigns: 50, page_size: 500 });
  await adsShape("5000000050", { campaigns: 50 });
  const m = (await connect(t3.api_key, "meta", "1000000050")).cb.json.connected[0];
  const g = (await connect(t3.api_key, "google", "5000000050")).cb.json.connected[0];
  const range = "from=2025-01-01&to=2025-01-30";
  const t0 = Date.now();
  const rm = await sync(t3.api_key, m, range);
  const t1 = Date.now();
  const rg = await sync(t3.api_key, g, range);
  const t2 = Date.now();
  assert.equal(rm.status, 200, rm.text);
  assert.equal(rg.status, 200, rg.text);
  assert.deepEqual([rm.json.result.campaigns, rm.json.result.rows, rm.json.result.calls], [50, 1500, 4]);
  assert.deepEqual([rg.json.result.campaigns, rg.json.result.rows], [50, 1500]);
  const report = await metrics(t3.api_key, range);
  assert.equal(report.rows, 3000);
  // Meta: Σc (1000+100c) × 30 days; Google: Σc (2000+500c) × 30.
  const sum = (f) => Array.from({ length: 50 }, (_, c) => f(c)).reduce((a, b) => a + b, 0);
  assert.equal(report.currencies[0].totals.impressions, 30 * (sum((c) => 1000 + 100 * c) + sum((c) => 2000 + 500 * c)));
  const t3b = Date.now();
  const rerun = await sync(t3.api_key, m, range);
  const t4 = Date.now();
  assert.equal(rerun.status, 200);
  assert.equal((await metrics(t3.api_key, range)).rows, 3000, "rerun overwrote");
  console.log(`# sync 50 campaigns × 30 days in workerd: Meta ${t1 - t0} ms (4 calls, fetch ${rm.json.result.fetch_ms} ms, total in DO ${rm.json.result.total_ms} ms), ` +
    `Google ${t2 - t1} ms (fetch ${rg.json.result.fetch_ms} ms), both ${t2 - t0} ms; Meta rerun ${t4 - t3b} ms`);
});
