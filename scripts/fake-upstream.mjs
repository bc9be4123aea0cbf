#!/usr/bin/env node
// A fake of every platform API pixelgate talks to. It records each request and answers like the
// real platform would (or as scripted), so tests and `scripts/dev` never reach the internet.
//
// Control endpoints (JSON):
//   GET  /__requests?prefix=/v24.0/   recorded requests, oldest first
//   POST /__reset                     forget requests, scripts and faults
//   POST /__faults {rate, seed, hang_ms, prefixes?}
//        answer that share of the platforms' event requests (or those under `prefixes`) with a
//        fault drawn from FAULTS (5xx, 429 with Retry-After, a hang of `hang_ms`, a connection
//        reset, TikTok's HTTP-200 error codes, Meta's is_transient), from a seeded generator so a
//        run can be repeated. rate 0 turns it off. Each recorded request says `fault` and whether
//        its answer was a success the platform would have acted on (`acked`).
//   POST /__script {prefix, responses:[{status, body, headers, hang_ms}], repeat_last?}
//        the next requests whose path starts with `prefix` get these answers in order.
//   GET  /__health
//
// Usage: node scripts/fake-upstream.mjs [port]   (prints "fake-upstream listening on PORT")
import http from "node:http";

export function startFakeUpstream(port = 0) {
  const requests = [];
  let scripts = [];
  let faults = { rate: 0 };
  let rand = mulberry32(1);

  // Ads: per-account shape of the fake Meta/Google data, set with POST /__ads
  // {account, campaigns, page_size, currency, account_status, disable_reason, customer_status,
  // leads, daily_budget, metrics: {impressions, clicks, spend, purchases, value}}.
  // Defaults: Meta 3 campaigns, Google 2, pages of 4, EUR, active, the formulas below. `currency:
  // null` leaves the currency out of the account's answer; `metrics` gives every Meta
  // campaign-day the same counters, `daily_budget` (minor units) every Meta campaign that budget.
  const adsAccounts = {};
  let adsCounter = 0;
  // What was uploaded: Meta audience id → rows of its latest usersreplace session; Google
  // Customer Match job → {list, members}.
  const metaAudienceRows = {};
  const customerMatchJobs = {};
  const currencyOf = (cfg) => (cfg.currency === undefined ? "EUR" : cfg.currency);

  function defaultAnswer(path, body, url, method) {
    const ads = url ? adsAnswer(path, body, url, method) : null;
    if (ads) return ads;
    if (/^\/v\d+\.\d+\/\d+\/events/.test(path)) {
      let n = 0;
      try { n = JSON.parse(body).data.length; } catch {}
      return { status: 200, body: JSON.stringify({ events_received: n, messages: [], fbtrace_id: "FAKE" + requests.length }) };
    }
    if (/^\/v\d+\.\d+\/\d+$/.test(path)) return { status: 200, body: JSON.stringify({ id: path.split("/").pop(), name: "Fake pixel" }) };
    if (path.startsWith("/debug/mp/collect")) return { status: 200, body: JSON.stringify({ validationMessages: [] }) };
    if (path.startsWith("/mp/collect")) return { status: 204, body: "" };
    if (path.startsWith("/rest/conversionEvents")) return { status: 201, body: "" };
    if (path.startsWith("/rest/conversions/")) return { status: 200, body: JSON.stringify({ id: 1, name: "Fake rule" }) };
    if (path.startsWith("/open_api/v1.3/event/track")) return { status: 200, body: JSON.stringify({ code: 0, message: "OK", request_id: "FAKE" + requests.length, data: {} }) };
    if (path.startsWith("/hooks/")) return { status: 200, body: "ok" };
    return { status: 200, body: "{}" };
  }

  function adsAnswer(path, body, url, method) {
    const ok = (b) => ({ status: 200, body: JSON.stringify(b) });
    const form = () => Object.fromEntries(new URLSearchParams(body));
    const base = `http://127.0.0.1:${server.address().port}`;
    let m;
    // OAuth token endpoints.
    if (/^\/v\d+\.\d+\/oauth\/access_token$/.test(path)) {
      const f = form();
      if (f.grant_type === "fb_exchange_token") return ok({ access_token: `EAAlong-${++adsCounter}`, token_type: "bearer", expires_in: 5184000 });
      if (f.code === "bad") return { status: 400, body: JSON.stringify({ error: { message: "Invalid verification code format.", type: "OAuthException", code: 100 } }) };
      return ok({ access_token: `EAAshort-${f.code}`, token_type: "bearer", expires_in: 3600 });
    }
    if (path === "/token") {
      const f = form();
      if (f.grant_type === "refresh_token") return ok({ access_token: `ya29.fake-r${++adsCounter}`, expires_in: 3599, token_type: "Bearer" });
      if (f.code === "bad") return { status: 400, body: JSON.stringify({ error: "invalid_grant", error_description: "Bad Request" }) };
      // A code starting with "short" gets an access token about to expire (forces a refresh).
      return ok({ access_token: `ya29.fake-${++adsCounter}`, expires_in: String(f.code).startsWith("short") ? 60 : 3599, refresh_token: `1//fake-refresh-${f.code}`, token_type: "Bearer", scope: "https://www.googleapis.com/auth/adwords" });
    }
    // The platforms' consent screens: the person agrees at once and is sent back with a code.
    if (/^\/v\d+\.\d+\/dialog\/oauth$/.test(path) || path === "/o/oauth2/v2/auth") {
      const back = new URL(url.searchParams.get("redirect_uri"));
      back.searchParams.set("code", "browser-code");
      back.searchParams.set("state", url.searchParams.get("state"));
      return { status: 302, headers: { location: back.toString() }, body: "" };
    }
    // Meta ad accounts: two of the Business Manager "Acme Business", one personal.
    if ((m = path.match(/^\/v\d+\.\d+\/me\/adaccounts$/))) {
      const acme = { id: "555000111", name: "Acme Business" };
      return ok({ data: [
        { id: "act_1111111111", account_id: "1111111111", name: "Acme ES", currency: "EUR", account_status: 1, business: acme },
        { id: "act_1111111112", account_id: "1111111112", name: "Acme PT", currency: "EUR", account_status: 1, business: acme },
        { id: "act_1111111113", account_id: "1111111113", name: "Personal", currency: "USD", account_status: 1 },
      ], paging: { cursors: { before: "MA", after: "Mg" } } });
    }
    if ((m = path.match(/^\/v\d+\.\d+\/act_(\d+)$/)) && method === "GET") {
      const cfg = adsAccounts[m[1]] || {};
      const acct = { id: `act_${m[1]}`, account_id: m[1], name: `Fake Meta ${m[1]}`, account_status: cfg.account_status ?? 1, disable_reason: cfg.disable_reason ?? 0 };
      if (currencyOf(cfg)) acct.currency = currencyOf(cfg);
      return ok(acct);
    }
    // A Meta custom audience's size estimate (after an upload: the rows of its last session).
    if ((m = path.match(/^\/v\d+\.\d+\/(\d+)$/)) && method === "GET" && /approximate_count/.test(url.searchParams.get("fields") || "")) {
      const rows = metaAudienceRows[m[1]];
      return ok({ id: m[1], approximate_count_lower_bound: rows === undefined ? -1 : Math.floor(rows * 0.8), approximate_count_upper_bound: rows === undefined ? -1 : rows });
    }
    // Meta campaigns and insights, paginated with cursors (pages of `page_size`, at most `limit`).
    if ((m = path.match(/^\/v\d+\.\d+\/act_(\d+)\/(campaigns|insights)$/)) && method === "GET") {
      const [account, edge] = [m[1], m[2]];
      const cfg = adsAccounts[account] || {};
      const n = cfg.campaigns ?? 3;
      const size = Math.min(Number(url.searchParams.get("limit") || 25), cfg.page_size ?? 4);
      let rows;
      if (edge === "campaigns") {
        rows = Array.from({ length: n }, (_, c) => ({ ...fakeMetaCampaign(account, c), ...(cfg.daily_budget ? { daily_budget: cfg.daily_budget } : {}) }));
      } else {
        const tr = JSON.parse(url.searchParams.get("time_range"));
        rows = [];
        for (const date of daysBetween(tr.since, tr.until)) for (let c = 0; c < n; c++) rows.push(fakeMetaInsight(account, c, date, cfg));
      }
      const offset = url.searchParams.get("after") ? Number(Buffer.from(url.searchParams.get("after"), "base64url").toString()) : 0;
      const page = rows.slice(offset, offset + size);
      const paging = { cursors: { before: Buffer.from(String(offset)).toString("base64url"), after: Buffer.from(String(offset + page.length)).toString("base64url") } };
      if (offset + size < rows.length) {
        const next = new URL(base + path + url.search);
        next.searchParams.set("after", paging.cursors.after);
        paging.next = next.toString();
      }
      return ok({ data: page, paging });
    }
    // Meta custom audiences, lookalikes and usersreplace sessions.
    if ((m = path.match(/^\/v\d+\.\d+\/act_(\d+)\/customaudiences$/)) && method === "POST") {
      const b = JSON.parse(body || "{}");
      return ok({ id: b.subtype === "LOOKALIKE" ? `23859${String(++adsCounter).padStart(8, "0")}` : `23858${String(++adsCounter).padStart(8, "0")}` });
    }
    if ((m = path.match(/^\/v\d+\.\d+\/(\d+)\/usersreplace$/)) && method === "POST") {
      const b = JSON.parse(body || "{}");
      const rows = b.payload?.data?.length ?? 0;
      metaAudienceRows[m[1]] = (b.session?.batch_seq === 1 ? 0 : metaAudienceRows[m[1]] || 0) + rows;
      return ok({ audience_id: m[1], session_id: b.session?.session_id, num_received: b.payload?.data?.length ?? 0, num_invalid_entries: 0, invalid_entry_samples: {} });
    }
    // Google Ads.
    // Google: the customers a login reaches, customers/2222222222 unless POST /__ads {account:
    // "accessible", customers} says otherwise; 7000000001 is a manager account (Agency MCC) of two.
    if (/^\/v\d+\/customers:listAccessibleCustomers$/.test(path)) {
      return ok({ resourceNames: (adsAccounts.accessible?.customers || ["2222222222"]).map((c) => `customers/${c}`) });
    }
    // Google Ads click conversions: every row uploaded, except a gclid starting "bad-", which is
    // refused in Google's partial-failure form at that row's index.
    if ((m = path.match(/^\/v\d+\/customers\/(\d+):uploadClickConversions$/)) && method === "POST") {
      const b = JSON.parse(body || "{}");
      if (b.validateOnly) return ok({});
      const rows = b.conversions || [];
      const bad = rows.map((c, i) => [c, i]).filter(([c]) => String(c.gclid || "").startsWith("bad-"));
      const results = rows.map((c) => String(c.gclid || "").startsWith("bad-") ? {}
        : { gclid: c.gclid, gbraid: c.gbraid, wbraid: c.wbraid, conversionAction: c.conversionAction, conversionDateTime: c.conversionDateTime });
      const answer = { results, jobId: String(++adsCounter) };
      if (bad.length) answer.partialFailureError = { code: 3, message: `${bad.length} conversion(s) failed`, details: [{
        "@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure",
        errors: bad.map(([, i]) => ({ errorCode: { conversionUploadError: "CLICK_NOT_FOUND" }, message: "The click associated with the given identifier could not be found.",
          location: { fieldPathElements: [{ fieldName: "conversions", index: i }, { fieldName: "gclid" }] } })) }] };
      return ok(answer);
    }
    // Meta Lead Ads: a page's token (read with the user token), a lead's answers (with the page's).
    if ((m = path.match(/^\/v\d+\.\d+\/(\d+)$/)) && method === "GET" && url.searchParams.get("fields") === "access_token") {
      return ok({ id: m[1], access_token: `EAApage-${m[1]}` });
    }
    if (/^\/v\d+\.\d+\/\d+\/subscribed_apps$/.test(path) && method === "POST") return ok({ success: true });
    if ((m = path.match(/^\/v\d+\.\d+\/(\d+)$/)) && method === "GET" && (url.searchParams.get("fields") || "").includes("field_data")) {
      return ok({ id: m[1], created_time: new Date(Date.now() - 60000).toISOString().slice(0, 19) + "+0000", ad_id: "6000000001", form_id: "7000000001",
        field_data: [{ name: "email", values: [`Lead-${m[1]}@Example.com`] }, { name: "full_name", values: ["Lea Lead"] },
          { name: "phone_number", values: ["+34600000000"] }, { name: "how_soon", values: ["this week"] }] });
    }
    if ((m = path.match(/^\/v\d+\/customers\/(\d+)\/googleAds:searchStream$/))) {
      const customer = m[1];
      const q = JSON.parse(body || "{}").query || "";
      if (/FROM customer\b/.test(q)) {
        const cfg = adsAccounts[customer] || {};
        const c = { resourceName: `customers/${customer}`, id: customer, descriptiveName: customer === "7000000001" ? "Agency MCC" : `Fake Google ${customer}`,
          status: cfg.customer_status || "ENABLED", manager: customer === "7000000001" };
        if (currencyOf(cfg)) c.currencyCode = currencyOf(cfg);
        return ok([{ results: [{ customer: c }], fieldMask: "customer.id,customer.descriptiveName,customer.currencyCode,customer.status", requestId: "FAKE" }]);
      }
      if (/FROM customer_client\b/.test(q)) {
        return ok([{ results: [
          { customerClient: { resourceName: `customers/${customer}/customerClients/7000000011`, id: "7000000011", descriptiveName: "Client ES", currencyCode: "EUR", status: "ENABLED", manager: false } },
          { customerClient: { resourceName: `customers/${customer}/customerClients/7000000012`, id: "7000000012", descriptiveName: "Client MX", currencyCode: "MXN", status: "ENABLED", manager: false } },
        ], requestId: "FAKE" }]);
      }
      if (/FROM offline_user_data_job\b/.test(q)) {
        const name = (q.match(/resource_name = '([^']+)'/) || [])[1];
        const job = customerMatchJobs[name];
        if (!job) return ok([{ results: [], requestId: "FAKE" }]);
        // Every uploaded member matches half the time: a "41-50 %" range, the list sized so.
        return ok([{ results: [{ offlineUserDataJob: { resourceName: name, status: "SUCCESS", operationMetadata: { matchRateRange: "MATCH_RANGE_41_TO_50" } },
          userList: { resourceName: job.list, sizeForSearch: String(Math.floor(job.members / 2)), sizeForDisplay: String(Math.floor(job.members / 2)) } }], requestId: "FAKE" }]);
      }
      const between = q.match(/BETWEEN '(\d{4}-\d{2}-\d{2})' AND '(\d{4}-\d{2}-\d{2})'/);
      const cfg = adsAccounts[customer] || {};
      const n = cfg.campaigns ?? 2;
      const results = [];
      for (const date of daysBetween(between[1], between[2])) for (let c = 0; c < n; c++) results.push(fakeGoogleRow(customer, c, date));
      const batches = [];
      for (let i = 0; i < results.length || i === 0; i += 10000) batches.push({ results: results.slice(i, i + 10000), fieldMask: "campaign.id,campaign.name,campaign.status,campaign.advertisingChannelType,campaign.startDate,campaign.endDate,campaignBudget.amountMicros,campaignBudget.totalAmountMicros,metrics.impressions,metrics.clicks,metrics.costMicros,metrics.conversions,metrics.conversionsValue,segments.date", requestId: "FAKE" });
      return ok(batches);
    }
    if ((m = path.match(/^\/v\d+\/customers\/(\d+)\/userLists:mutate$/))) return ok({ results: [{ resourceName: `customers/${m[1]}/userLists/555${++adsCounter}` }] });
    if ((m = path.match(/^\/v\d+\/customers\/(\d+)\/offlineUserDataJobs:create$/))) {
      const name = `customers/${m[1]}/offlineUserDataJobs/777${++adsCounter}`;
      customerMatchJobs[name] = { list: JSON.parse(body || "{}").job?.customerMatchUserListMetadata?.userList, members: 0 };
      return ok({ resourceName: name });
    }
    if ((m = path.match(/^\/v\d+\/(customers\/\d+\/offlineUserDataJobs\/\d+):addOperations$/))) {
      const job = customerMatchJobs[m[1]];
      if (job) job.members += (JSON.parse(body || "{}").operations || []).filter((o) => o.create).length;
      return ok({});
    }
    if ((m = path.match(/^\/v\d+\/customers\/(\d+)\/offlineUserDataJobs\/\d+:run$/))) return ok({ name: `customers/${m[1]}/operations/fake${++adsCounter}` });
    return null;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url, "http://x");
      const send = (status, payload, headers = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(typeof payload === "string" ? payload : JSON.stringify(payload));
      };
      if (url.pathname === "/__health") return send(200, { ok: true });
      if (url.pathname === "/__requests") {
        const prefix = url.searchParams.get("prefix") || "";
        return send(200, requests.filter((r) => r.path.startsWith(prefix)));
      }
      if (url.pathname === "/__reset") { requests.length = 0; scripts = []; faults = { rate: 0 }; return send(200, { ok: true }); }
      if (url.pathname === "/__faults") {
        faults = { rate: 0, hang_ms: 3000, ...JSON.parse(body || "{}") };
        rand = mulberry32(faults.seed ?? 1);
        return send(200, { ok: true, faults });
      }
      if (url.pathname === "/__ads") { const a = JSON.parse(body); adsAccounts[a.account] = a; return send(200, { ok: true }); }
      if (url.pathname === "/__script") {
        const s = JSON.parse(body);
        // A new script for a prefix replaces the previous one.
        scripts = scripts.filter((x) => x.prefix !== s.prefix);
        scripts.push({ prefix: s.prefix, responses: s.responses.slice(), repeatLast: !!s.repeat_last });
        return send(200, { ok: true });
      }
      const entry = { at: Date.now(), method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body };
      requests.push(entry);
      const script = scripts.find((s) => url.pathname.startsWith(s.prefix) && s.responses.length > 0);
      let answer = defaultAnswer(url.pathname, body, url, req.method);
      if (script) {
        answer = script.repeatLast && script.responses.length === 1 ? script.responses[0] : script.responses.shift();
      } else if (faults.rate > 0 && (faults.prefixes ? faults.prefixes.some((p) => url.pathname.startsWith(p)) : isEventPath(url.pathname)) && rand() < faults.rate) {
        const kind = FAULTS[Math.floor(rand() * FAULTS.length)];
        entry.fault = kind.name;
        if (kind.reset) { entry.answered = 0; entry.acked = false; req.socket.destroy(); return; }
        answer = kind.answer(url.pathname, faults);
      }
      entry.answered = answer.status;
      entry.acked = !answer.hang_ms && isSuccess(url.pathname, answer);
      const finish = () => {
        if (res.destroyed) return;
        // A hang the client waited out (a slow, loaded gateway can) still ends in an answer the
        // platform acted on.
        if (answer.hang_ms) entry.acked = isSuccess(url.pathname, answer);

        res.writeHead(answer.status, { "content-type": "application/json", ...(answer.headers || {}) });
        res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? {}));
      };
      if (answer.hang_ms) setTimeout(finish, answer.hang_ms); else finish();
    });
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => resolve({ server, port: server.address().port, requests }));
  });
}

// The platforms' event endpoints, where random faults go by default.
function isEventPath(path) {
  return /^\/v\d+\.\d+\/\d+\/events/.test(path) || path.startsWith("/mp/collect")
    || path.startsWith("/rest/conversionEvents") || path.startsWith("/open_api/v1.3/event/track");
}

// The faults a platform really answers, by kind.
const FAULTS = [
  { name: "500", answer: () => ({ status: 500, body: { error: { message: "Internal error" } } }) },
  { name: "503", answer: () => ({ status: 503, body: "Service Unavailable" }) },
  { name: "429", answer: () => ({ status: 429, headers: { "retry-after": "1" }, body: { error: { message: "Too many requests", code: 4 } } }) },
  { name: "hang", answer: (_, f) => ({ status: 200, hang_ms: f.hang_ms, body: {} }) },
  { name: "reset", reset: true },
  { name: "platform-error-in-200", answer: (path) => path.startsWith("/open_api/")
      ? { status: 200, body: { code: 50002, message: "Internal service error, please retry", request_id: "fault" } }
      : { status: 400, body: { error: { message: "An unexpected error has occurred. Please retry your request later.", type: "OAuthException", code: 2, is_transient: true, fbtrace_id: "Ffault" } } } },
];

// Whether an answer is one the platform would have acted on (TikTok's errors come with HTTP 200).
function isSuccess(path, answer) {
  if (answer.status < 200 || answer.status >= 300) return false;
  if (path.startsWith("/open_api/")) {
    try { return (typeof answer.body === "string" ? JSON.parse(answer.body) : answer.body).code === 0; } catch { return false; }
  }
  return true;
}

// A small seeded generator (mulberry32): the same seed gives the same faults.
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fake ads data, exported so tests compute expected totals from the same formulas.
// Meta campaign c: daily budget 50.00 (5000 minor units); campaign 0 has only 5.00 left. Objective
// OUTCOME_SALES, started 2025-01-01; campaign 1 (the second) ends 2026-12-31.
export function fakeMetaCampaign(account, c) {
  const camp = { id: `2385${account.slice(-4)}${String(c + 1).padStart(4, "0")}`, name: `Meta campaign ${c + 1}`, status: "ACTIVE",
    objective: "OUTCOME_SALES", start_time: "2025-01-01T00:00:00+0100", daily_budget: "5000", budget_remaining: c === 0 ? "500" : "4000" };
  if (c === 1) camp.stop_time = "2026-12-31T23:59:59+0100";
  return camp;
}
// Meta insights for campaign c on a day: impressions 1000+100c, clicks 20+c, spend (10+c).50,
// reach 80 % of the impressions (frequency impressions/reach), 2 purchases worth 63.00 (reported under two action
// types, counted once), and `leads` pixel leads when the account's shape sets it (counted by
// default, not when the tenant counts purchases only).
export function fakeMetaInsight(account, c, date, cfg = {}) {
  const camp = fakeMetaCampaign(account, c);
  const m = cfg.metrics || {};
  const impressions = m.impressions ?? 1000 + 100 * c, reach = Math.round(impressions * 0.8);
  const clicks = m.clicks ?? 20 + c, purchases = String(m.purchases ?? 2), value = m.value ?? "63.00";
  return { campaign_id: camp.id, campaign_name: camp.name, impressions: String(impressions), clicks: String(clicks),
    spend: m.spend ?? `${10 + c}.50`, reach: String(reach), frequency: (impressions / reach).toFixed(6), date_start: date, date_stop: date,
    actions: [{ action_type: "link_click", value: String(clicks) }, { action_type: "purchase", value: purchases }, { action_type: "offsite_conversion.fb_pixel_purchase", value: purchases },
      ...(cfg.leads ? [{ action_type: "offsite_conversion.fb_pixel_lead", value: String(cfg.leads) }] : [])],
    action_values: [{ action_type: "purchase", value }, { action_type: "offsite_conversion.fb_pixel_purchase", value }] };
}
// Google campaign c on a day: impressions 2000+500c, clicks 40+10c, cost (15.25+c), 1.5 conversions worth 45.25.
export function fakeGoogleRow(customer, c, date) {
  return { campaign: { resourceName: `customers/${customer}/campaigns/${9000 + c}`, id: String(9000 + c), name: `Google campaign ${c + 1}`, status: "ENABLED",
    advertisingChannelType: c === 0 ? "SEARCH" : "PERFORMANCE_MAX", startDate: "2025-02-01", endDate: "2037-12-30" },
    campaignBudget: { resourceName: `customers/${customer}/campaignBudgets/${8000 + c}`, amountMicros: "40000000" },
    metrics: { impressions: String(2000 + 500 * c), clicks: String(40 + 10 * c), costMicros: String(15250000 + 1000000 * c), conversions: 1.5, conversionsValue: 45.25 },
    segments: { date } };
}
export function daysBetween(since, until) {
  const out = [];
  for (let d = new Date(since + "T00:00:00Z"); d <= new Date(until + "T00:00:00Z"); d = new Date(d.getTime() + 86400000)) out.push(d.toISOString().slice(0, 10));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port } = await startFakeUpstream(Number(process.argv[2] || 0));
  console.log(`fake-upstream listening on ${port}`);
}
