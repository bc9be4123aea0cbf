// The security issue in real workerd: who may read and erase a visitor's consent (and the audit
// of erases), CORS and the dashboard's headers, outbound webhook URLs, and the client context of
// server-to-server events. (OAuth binding: ads.test.mjs; the failed-auth limiter: admin.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitFor, sha256 } from "./harness.mjs";

let gw, shop;
const hookBase = () => `http://127.0.0.1:${gw.fake.port}`;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
});
after(async () => { await gw?.stop(); });

const sql = (query) => gw.sql(query);

/** The `name=value` pairs of an answer's Set-Cookie headers. */
const setCookies = (r) => Object.fromEntries(r.headers.getSetCookie().map((c) => c.split(";")[0].split("=")).map(([k, ...v]) => [k, v.join("=")]));

test("with the site key a browser reads and erases only its own visitor (the gateway's signed HttpOnly cookie); every erase is audited", async () => {
  const site = { origin: "https://shop.example" };
  const path = (v) => `/api/v1/tracking/consent/${v}?site_key=${shop.site_key}`;
  // The visitor's browser: the id call sets pg_vid and the gateway's signature of it, pg_vsig.
  const id = await gw.req("GET", `/api/v1/tracking/id?site_key=${shop.site_key}&vid=v-mine`, { headers: site });
  assert.equal(id.status, 200, id.text);
  const jar = setCookies(id);
  assert.equal(jar.pg_vid, "v-mine");
  assert.match(jar.pg_vsig, /^[0-9a-f]{32}$/);
  assert.ok(id.headers.getSetCookie().some((c) => /^pg_vsig=.*HttpOnly/.test(c)), "the signature is HttpOnly");
  const mine = `pg_vid=v-mine; pg_vsig=${jar.pg_vsig}`;
  assert.equal((await gw.consent(shop, "v-mine", { marketing: true })).status, 201);
  assert.equal((await gw.consent(shop, "v-other", { marketing: true })).status, 201);

  // Reading: only the visitor the gateway's signed cookie names; a made-up Cookie header proves nothing.
  for (const [v, cookie] of [["v-other", undefined], ["v-other", mine], ["v-other", "pg_vid=v-other"],
    ["v-other", `pg_vid=v-other; pg_vsig=${jar.pg_vsig}`], ["v-mine", "pg_vid=v-mine"], ["v-mine", "pg_vid=v-mine; pg_vsig=00000000000000000000000000000000"]]) {
    const r = await gw.req("GET", path(v), { headers: { ...site, ...(cookie ? { cookie } : {}) } });
    assert.equal(r.status, 403, `${v} with ${cookie}: ${r.text}`);
    assert.equal(r.json.error.code, "not_this_visitor");
  }
  const read = await gw.req("GET", path("v-mine"), { headers: { ...site, cookie: `other=1; ${mine}` } });
  assert.equal(read.status, 200, read.text);
  assert.equal(read.json.consent.marketing, true);
  assert.equal(read.json.history, null, "a browser never sees the history");

  // Someone naming another visitor's id gets no signature for it: not from the id call, not from a consent post.
  const claim = await gw.req("GET", `/api/v1/tracking/id?site_key=${shop.site_key}&vid=v-other`, { headers: site });
  assert.equal(claim.status, 200);
  // It is given a visitor of its own instead (signed: a new visitor has nothing to read or erase).
  assert.notEqual(claim.json.visitor_id, "v-other");
  assert.equal(setCookies(claim).pg_vid, claim.json.visitor_id);
  assert.equal(claim.json.consent, null);
  const repost = await gw.req("POST", `/api/v1/tracking/consent?site_key=${shop.site_key}`, { headers: { ...site, "content-type": "text/plain" },
    body: { visitor_id: "v-other", version: "v1", analytics: false, marketing: false, functional: true } });
  assert.equal(repost.status, 403, repost.text);
  assert.equal(setCookies(repost).pg_vsig, undefined);
  // The visitor's own consent answer keeps its signature fresh.
  const again = await gw.req("POST", `/api/v1/tracking/consent?site_key=${shop.site_key}`, { headers: { ...site, cookie: mine, "content-type": "text/plain" },
    body: { visitor_id: "v-mine", version: "v1", analytics: false, marketing: true, functional: true } });
  assert.equal(setCookies(again).pg_vsig, jar.pg_vsig);

  // Erasing: the public site key cannot destroy another visitor's evidence.
  const refused = await gw.req("DELETE", path("v-other"), { headers: { ...site, cookie: `pg_vid=v-other; pg_vsig=${jar.pg_vsig}` } });
  assert.equal(refused.status, 403, refused.text);
  const still = await gw.req("GET", "/api/v1/tracking/consent/v-other", { token: shop.api_key });
  assert.equal(still.json.history.length, 1, "the other visitor's evidence is untouched");

  const own = await gw.req("DELETE", path("v-mine"), { headers: { ...site, cookie: mine } });
  assert.equal(own.status, 200, own.text);
  const byServer = await gw.req("DELETE", "/api/v1/tracking/consent/v-other", { token: shop.api_key });
  assert.equal(byServer.status, 200, byServer.text);
  // The erase still leaves the erasure record (no choice shown; deliveries stop).
  const gone = await gw.req("GET", "/api/v1/tracking/consent/v-other", { token: shop.api_key });
  assert.equal(gone.json.consent, null);
  assert.equal(gone.json.default_applies, true);

  const audit = sql(`SELECT visitor_hash, actor, erased_at FROM erasure_audit WHERE tenant_id = '${shop.tenant_id}' ORDER BY id`);
  assert.deepEqual(audit.map((r) => [r.visitor_hash, r.actor]), [[sha256("v-mine"), "visitor"], [sha256("v-other"), "api_key"]]);
  const now = Date.now() / 1000;
  assert.ok(audit.every((r) => Math.abs(r.erased_at - now) < 120));
  assert.ok(!JSON.stringify(sql("SELECT * FROM erasure_audit")).includes("v-mine"), "no raw visitor id in the audit");
});

test("the id call answers a visitor's consent only to the browser that proves it is that visitor", async () => {
  const site = { origin: "https://shop.example" };
  const id = (vid, cookie) => gw.req("GET", `/api/v1/tracking/id?site_key=${shop.site_key}&vid=${vid}`, { headers: { ...site, ...(cookie ? { cookie } : {}) } });
  // The visitor's own browser: its first choice signs its id.
  const first = await gw.consent(shop, "v-secret", { marketing: true, analytics: true });
  assert.equal(first.status, 201, first.text);
  const own = `pg_vid=v-secret; pg_vsig=${setCookies(first).pg_vsig}`;
  const mine = await id("v-secret", own);
  assert.equal(mine.json.visitor_id, "v-secret");
  assert.equal(mine.json.consent.marketing, true);

  // Anyone else naming the id, in the query or in a Cookie header it wrote itself, learns nothing
  // of it: a new visitor, no consent, and no signature for the id it named.
  for (const cookie of [undefined, "pg_vid=v-secret", "pg_vid=v-secret; pg_vsig=00000000000000000000000000000000"]) {
    const r = await id("v-secret", cookie);
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.visitor_id, "v-secret", `${cookie}: ${r.text}`);
    assert.equal(r.json.consent, null, `${cookie}: ${r.text}`);
    assert.equal(setCookies(r).pg_vid, r.json.visitor_id);
    assert.ok(!JSON.stringify(r.json).includes("v-secret"));
  }
  // A visitor id nobody has made a choice for yet is taken as it is (a new visitor, the tag's id).
  const fresh = await id("v-fresh-1");
  assert.equal(fresh.json.visitor_id, "v-fresh-1");
  assert.match(setCookies(fresh).pg_vsig, /^[0-9a-f]{32}$/);
});

test("a consent post cannot overwrite another visitor's choice: only the browser that proves the visitor, a new visitor, or the api key", async () => {
  const site = { origin: "https://shop.example", "content-type": "text/plain" };
  const post = (visitor_id, marketing, headers = {}) => gw.req("POST", `/api/v1/tracking/consent?site_key=${shop.site_key}`, { headers: { ...site, ...headers },
    body: { visitor_id, version: "v1", analytics: true, marketing, functional: true } });
  const first = await post("v-victim", true);
  assert.equal(first.status, 201, first.text);
  const own = `pg_vid=v-victim; pg_vsig=${setCookies(first).pg_vsig}`;

  for (const cookie of [undefined, "pg_vid=v-victim", "pg_vid=v-victim; pg_vsig=ffffffffffffffffffffffffffffffff"]) {
    const r = await post("v-victim", false, cookie ? { cookie } : {});
    assert.equal(r.status, 403, `${cookie}: ${r.text}`);
    assert.equal(r.json.error.code, "not_this_visitor");
  }
  const kept = await gw.req("GET", "/api/v1/tracking/consent/v-victim", { token: shop.api_key });
  assert.equal(kept.json.consent.marketing, true, "the victim's choice stands");
  assert.equal(kept.json.history.length, 1);

  // The visitor's own browser changes its choice; the tenant's server may record any visitor's.
  assert.equal((await post("v-victim", false, { cookie: own })).status, 201);
  const byServer = await gw.req("POST", "/api/v1/tracking/consent", { token: shop.api_key,
    body: { visitor_id: "v-victim", version: "v1", analytics: true, marketing: true, functional: true } });
  assert.equal(byServer.status, 201, byServer.text);
  const after = await gw.req("GET", "/api/v1/tracking/consent/v-victim", { token: shop.api_key });
  assert.equal(after.json.history.length, 3);
});

test("CORS: only the site key's allowed origins, credentials only for site-key calls, never for Bearer", async () => {
  const preflight = (path, origin, requestHeaders = "content-type") => fetch(gw.base + path, {
    method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders },
  });
  const acao = (r) => r.headers.get("access-control-allow-origin");
  const acac = (r) => r.headers.get("access-control-allow-credentials");
  const events = `/api/v1/tracking/events?site_key=${shop.site_key}`;

  const ok = await preflight(events, "https://www.shop.example");
  assert.equal(ok.status, 204);
  assert.equal(acao(ok), "https://www.shop.example");
  assert.equal(acac(ok), "true");
  assert.match(ok.headers.get("vary") || "", /Origin/);
  for (const [path, origin, h] of [
    [events, "https://evil.example"],                     // not the tenant's
    ["/api/v1/tracking/events", "https://shop.example"],  // no site key: no tenant
    [`/api/v1/tracking/consent?site_key=nope`, "https://shop.example"],
    [`/api/v1/tracking/pixels?site_key=${shop.site_key}`, "https://shop.example", "authorization, content-type"],
    ["/api/v1/tenants", "https://evil.example", "authorization"],
    ["/api/v1/ads/accounts", "https://shop.example", "authorization"],
  ]) {
    const r = await preflight(path, origin, h);
    assert.equal(acao(r), null, `${path} from ${origin}`);
    assert.equal(acac(r), null, `${path} from ${origin}`);
  }

  // Actual answers.
  const allowed = await gw.event(shop, { event_name: "page_view", url: "https://shop.example/" });
  assert.equal(allowed.status, 202);
  assert.equal(acao(allowed), "https://shop.example");
  assert.equal(acac(allowed), "true");
  const evil = await gw.event(shop, { event_name: "page_view" }, { origin: "https://evil.example" });
  assert.equal(evil.status, 403);
  assert.equal(acao(evil), null, "a refused origin is never reflected");
  const invalid = await gw.event(shop, { event_name: "" });
  assert.equal(invalid.status, 400);
  assert.equal(acao(invalid), "https://shop.example", "an allowed page can read why it was refused");
  for (const origin of ["https://evil.example", "https://shop.example"]) {
    const r = await gw.req("GET", "/api/v1/tracking/pixels", { token: shop.api_key, headers: { origin } });
    assert.equal(r.status, 200);
    assert.equal(acao(r), null, `Bearer call from ${origin}`);
    assert.equal(acac(r), null, `Bearer call from ${origin}`);
  }
});

test("the dashboard cannot be framed by other sites; its banner preview only by the dashboard", async () => {
  for (const path of ["/admin/", "/admin/index.html", "/admin/app.js"]) {
    const r = await fetch(gw.base + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get("x-frame-options"), "DENY", path);
    const csp = r.headers.get("content-security-policy") || "";
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /default-src 'self'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.match(csp, /object-src 'none'/, path);
    assert.equal(r.headers.get("referrer-policy"), "no-referrer", path);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", path);
  }
  const p = await fetch(gw.base + "/admin/preview");
  assert.equal(p.status, 200);
  assert.equal(p.headers.get("x-frame-options"), "SAMEORIGIN");
  const csp = p.headers.get("content-security-policy") || "";
  assert.match(csp, /frame-ancestors 'self'/);
  assert.doesNotMatch(csp, /frame-ancestors 'none'/);
  assert.match(csp, /connect-src 'none'|default-src 'none'/);
});

test("webhook URLs: https to public hosts only (loopback only with ALLOW_LOOPBACK_WEBHOOKS); redirects are not followed", async () => {
  const put = (url) => gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: shop.api_key, body: { webhook_url: url } });
  const putAds = (url) => gw.req("PUT", "/api/v1/ads/alerts/thresholds", { token: shop.api_key, body: { notification_webhook_url: url } });
  for (const url of [
    "http://hooks.example/x", "https://10.1.2.3/x", "https://169.254.169.254/latest/meta-data", "https://192.168.0.1/",
    "https://172.16.5.4/", "https://100.64.0.1/", "https://0.0.0.0/", "https://[fd00::1]/x", "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/", "https://[::]/", "https://2130706433/", "https://0x7f.1/", "https://127.1/",
    "https://foo.localhost/", "https://localhost./", "http://127.0.0.2/", "ftp://hooks.example/",
    // Every spelling of an internal address or name: decimal, octal, hex, short forms, IPv6
    // mapped (dotted and hex), 6to4, and names only a private network resolves.
    "https://017700000001/", "https://0x7f000001/", "https://0177.0.0.1/", "https://0x7f.0x0.0x0.0x1/", "https://10.1/",
    "https://[::ffff:7f00:1]/", "https://[0:0:0:0:0:ffff:10.0.0.1]/", "https://[2002:c0a8:101::1]/", "https://[64:ff9b::a9fe:a9fe]/",
    "https://LOCALHOST./", "https://metadata.google.internal/computeMetadata/v1/", "https://printer.local/", "https://intranet/",
    "https://nas.home.arpa/", "https://db.corp./", "https://%31%32%37.0.0.1/",
  ]) {
    const r = await put(url);
    assert.equal(r.status, 400, `${url}: ${r.text}`);
    assert.equal(r.json.error.field, "webhook_url");
    const a = await putAds(url);
    assert.equal(a.status, 400, `ads ${url}: ${a.text}`);
    assert.equal(a.json.error.field, "notification_webhook_url");
  }
  assert.equal((await put("https://hooks.slack.com/services/T/B/X")).status, 200);
  assert.equal((await putAds("https://hooks.slack.com/services/T/B/Y")).status, 200);
  // The harness sets ALLOW_LOOPBACK_WEBHOOKS=1: local receivers work in dev and tests.
  assert.equal((await putAds(`${hookBase()}/hooks/ads`)).status, 200);

  await gw.script("/hooks/redirect", [{ status: 302, headers: { location: `${hookBase()}/hooks/landed` }, body: "" }]);
  assert.equal((await put(`${hookBase()}/hooks/redirect`)).status, 200);
  const sent = await gw.req("POST", "/api/v1/tracking/settings/notifications/test", { token: shop.api_key });
  assert.equal(sent.status, 200, sent.text);
  assert.deepEqual(sent.json, { ok: false, http_status: 302, error: null });
  assert.equal((await gw.upstream("/hooks/redirect")).length, 1);
  assert.equal((await gw.upstream("/hooks/landed")).length, 0, "the redirect was not followed");
});

test("a webhook host name that resolves to a private address is not called (resolved over DNS over HTTPS at send time)", async () => {
  const t = await gw.tenant(["dns.example"]);
  const put = (url) => gw.req("PUT", "/api/v1/tracking/settings/notifications", { token: t.api_key, body: { webhook_url: url } });
  assert.equal((await put("https://hooks.rebind.example/notify")).status, 200, "a public name is accepted when set");
  // Later its DNS points inside: A 10.0.0.7 (the AAAA answer is empty).
  await gw.script("/dns-query", [
    { status: 200, body: { Status: 0, Answer: [{ name: "hooks.rebind.example", type: 1, TTL: 30, data: "10.0.0.7" }] } },
    { status: 200, body: { Status: 0 } },
  ]);
  const sent = await gw.req("POST", "/api/v1/tracking/settings/notifications/test", { token: t.api_key });
  assert.equal(sent.status, 200, sent.text);
  assert.equal(sent.json.ok, false);
  assert.equal(sent.json.http_status, 0);
  assert.match(sent.json.error, /resolves to a private/);
  assert.ok(!sent.json.error.includes("10.0.0.7"));
  const lookups = await gw.upstream("/dns-query");
  assert.deepEqual(lookups.slice(-2).map((q) => [q.query.name, q.query.type, q.headers.accept]),
    [["hooks.rebind.example", "A", "application/dns-json"], ["hooks.rebind.example", "AAAA", "application/dns-json"]]);
  // A name that does not resolve is not called either.
  await gw.script("/dns-query", [{ status: 200, body: { Status: 3 } }, { status: 200, body: { Status: 3 } }]);
  const nx = await gw.req("POST", "/api/v1/tracking/settings/notifications/test", { token: t.api_key });
  assert.match(nx.json.error, /does not exist/);
});

test("server-to-server events carry the visitor's IP and user agent explicitly, never the calling server's", async () => {
  const t = await gw.tenant(["s2s.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "909090909", access_token: "tok-s2s" });
  const server = { "cf-connecting-ip": "198.51.100.200", "user-agent": "shop-backend/1.0" };
  const send = (ev) => gw.req("POST", "/api/v1/tracking/events", {
    token: t.api_key, headers: server,
    body: { url: "https://s2s.example/checkout", consent: { analytics: true, marketing: true }, user_data: { email: "ana@example.com" }, ...ev },
  });
  const withClient = await send({ event_id: "s2s-1", event_name: "purchase", custom_data: { value: 10, currency: "EUR" },
    client_ip_address: "203.0.113.9", client_user_agent: "Mozilla/5.0 (iPhone; e2e)" });
  assert.equal(withClient.status, 202, withClient.text);
  const without = await send({ event_id: "s2s-2", event_name: "lead" });
  assert.equal(without.status, 202, without.text);
  const bad = await send({ event_name: "lead", client_ip_address: "not-an-ip" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "client_ip_address");
  // A browser's address is the request's own: it may not claim another.
  const browser = await gw.event(t, { event_name: "lead", client_ip_address: "203.0.113.9" }, { origin: "https://s2s.example" });
  assert.equal(browser.status, 400, browser.text);
  assert.equal(browser.json.error.field, "client_ip_address");

  const sentData = await waitFor(async () => {
    const reqs = await gw.upstream("/v24.0/909090909/events");
    const data = reqs.flatMap((r) => JSON.parse(r.body).data);
    return data.some((d) => d.event_id === "s2s-1") ? { reqs, data } : null;
  }, { what: "the Meta request" });
  const s1 = sentData.data.find((d) => d.event_id === "s2s-1");
  assert.equal(s1.user_data.client_ip_address, "203.0.113.9");
  assert.equal(s1.user_data.client_user_agent, "Mozilla/5.0 (iPhone; e2e)");
  // Without them Meta (which needs a user agent for website events) skips the event rather than
  // sending the server's.
  await waitFor(async () => {
    const ev = (await gw.recent(t.api_key)).find((e) => e.event_id === "s2s-2");
    return ev && ev.deliveries?.length && ev.deliveries.every((d) => d.status !== "queued" && d.status !== "sending");
  }, { what: "s2s-2 settled" });
  const all = JSON.stringify(await gw.upstream(""));
  assert.ok(!all.includes("198.51.100.200"), "the server's IP was never sent");
  assert.ok(!all.includes("shop-backend/1.0"), "the server's user agent was never sent");
});
