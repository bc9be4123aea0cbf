// Tag endpoints in real workerd: static tag/banner with caching headers, public config, banner
// settings through the API, the visitor-id call and the server-set first-party cookies.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { startGateway } from "./harness.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
let gw, shop;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
});
after(async () => { await gw?.stop(); });

/** Raw HTTP (node:http) so Host and Cookie can be set like a browser on track.shop.example. */
function raw(method, path, headers = {}, body) {
  const u = new URL(gw.base);
  return new Promise((res, rej) => {
    const r = http.request({ host: u.hostname, port: u.port, method, path, headers }, (resp) => {
      let text = "";
      resp.on("data", (d) => { text += d; });
      resp.on("end", () => {
        let json = null;
        try { json = JSON.parse(text); } catch {}
        res({ status: resp.statusCode, headers: resp.headers, json, text, cookies: parseSetCookies(resp.headers["set-cookie"] || []) });
      });
    });
    r.on("error", rej);
    if (body !== undefined) r.write(typeof body === "string" ? body : JSON.stringify(body));
    r.end();
  });
}

function parseSetCookies(list) {
  const out = {};
  for (const line of list) {
    const [nv, ...attrs] = line.split(";").map((s) => s.trim());
    const i = nv.indexOf("=");
    const c = { value: nv.slice(i + 1), raw: line };
    for (const a of attrs) {
      const [k, v] = a.split("=");
      c[k.toLowerCase()] = v ?? true;
    }
    out[nv.slice(0, i)] = c;
  }
  return out;
}

const browserish = (extra = {}) => ({ host: "track.shop.example", origin: "https://shop.example", ...extra });

test("t.js is served by the assets binding with caching headers and stays under 5 KB gzipped", async () => {
  const r = await fetch(gw.base + "/t.js");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /javascript/);
  assert.match(r.headers.get("cache-control") || "", /public, max-age=300/);
  const text = await r.text();
  assert.match(text, /pixelgate/);
  const gz = execFileSync("gzip", ["-9c"], { input: text }).length;
  assert.ok(gz <= 5120, `t.js is ${gz} bytes gzipped`);
  const b = await fetch(gw.base + "/banner.js");
  assert.equal(b.status, 200);
  assert.match(b.headers.get("cache-control") || "", /public, max-age=3600/);
  await b.text();
});

test("banner settings: validated, stored with the tenant, published in the public config", async () => {
  const bad = await gw.req("PUT", "/api/v1/tracking/settings", { token: shop.api_key, body: { banner: { colors: { primary: "red;}*{display:none" } } } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "banner.colors.primary");
  const badUrl = await gw.req("PUT", "/api/v1/tracking/settings", { token: shop.api_key, body: { banner: { privacy_url: "javascript:alert(1)" } } });
  assert.equal(badUrl.json.error.field, "banner.privacy_url");

  const banner = { version: "2024-06", position: "bottom-right", colors: { primary: "#0F766E" }, privacy_url: "https://shop.example/privacidad",
    texts: { es: { title: "Tu privacidad importa" } } };
  const put = await gw.req("PUT", "/api/v1/tracking/settings", { token: shop.api_key, body: { banner } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.banner.colors.primary, "#0f766e");
  assert.equal(put.json.consent_policy.default_marketing, false, "policy untouched");
  const got = await gw.req("GET", "/api/v1/tracking/settings", { token: shop.api_key });
  assert.deepEqual(got.json.banner, put.json.banner);
  // consent_policy alone still works and keeps the banner
  const pol = await gw.req("PUT", "/api/v1/tracking/settings", { token: shop.api_key, body: { consent_policy: { default_analytics: false, default_marketing: false } } });
  assert.equal(pol.status, 200, pol.text);
  assert.equal(pol.json.banner.version, "2024-06");

  const denied = await gw.req("GET", `/api/v1/tracking/config?site_key=${shop.site_key}`, { headers: { origin: "https://evil.example" } });
  assert.equal(denied.status, 403);
  const cfg = await gw.req("GET", `/api/v1/tracking/config?site_key=${shop.site_key}`, { headers: { origin: "https://www.shop.example" } });
  assert.equal(cfg.status, 200, cfg.text);
  assert.equal(cfg.json.consent_version, "2024-06");
  assert.equal(cfg.json.banner.texts.es.title, "Tu privacidad importa");
  assert.deepEqual(cfg.json.consent_default, { analytics: false, marketing: false });
  assert.match(cfg.headers.get("cache-control"), /public, max-age=60/);
  assert.equal(cfg.headers.get("access-control-allow-origin"), "https://www.shop.example");
});

test("id endpoint: stable visitor id in an HttpOnly first-party cookie, no ad cookies before consent", async () => {
  const first = await raw("GET", `/api/v1/tracking/id?site_key=${shop.site_key}&vid=local-123&fbp=fb.1.1700000000000.1234567890`, browserish());
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.visitor_id, "local-123", "a new browser keeps the tag's id");
  assert.equal(first.json.consent, null);
  const v = first.cookies.pg_vid;
  assert.equal(v.value, "local-123");
  assert.equal(v.httponly, true);
  assert.equal(v.samesite, "Lax");
  assert.equal(v.secure, true, "https page → Secure");
  assert.equal(v.domain, "shop.example");
  assert.equal(v.path, "/");
  assert.equal(v["max-age"], String(400 * 86400));
  assert.equal(first.cookies._fbp, undefined, "no Meta cookie without marketing consent");
  assert.equal(first.headers["access-control-allow-credentials"], "true");
  assert.equal(first.headers["access-control-allow-origin"], "https://shop.example");

  // The server cookie wins over a different local id (ITP wiped script storage).
  const again = await raw("GET", `/api/v1/tracking/id?site_key=${shop.site_key}&vid=other`, browserish({ cookie: "pg_vid=local-123" }));
  assert.equal(again.json.visitor_id, "local-123");

  // http page, gateway on an unrelated host: host-only, not Secure.
  const plain = await raw("GET", `/api/v1/tracking/id?site_key=${shop.site_key}`, { host: "pg.workers.example", origin: "http://shop.example" });
  assert.equal(plain.status, 200);
  assert.equal(plain.cookies.pg_vid.secure, undefined);
  assert.equal(plain.cookies.pg_vid.domain, undefined);
  assert.match(plain.json.visitor_id, /^[0-9a-f-]{36}$/);

  const refused = await raw("GET", `/api/v1/tracking/id?site_key=${shop.site_key}`, { host: "track.shop.example", origin: "https://evil.example" });
  assert.equal(refused.status, 403);
  assert.equal(refused.cookies.pg_vid, undefined);
});

test("consent answer sets _fbp/_fbc and the consent cookie; a later rejection expires the ad cookies", async () => {
  const body = { site_key: shop.site_key, visitor_id: "cookie-v1", analytics: true, marketing: true, functional: true, version: "2024-06",
    fbp: "fb.1.1700000000000.1234567890", fbc: "fb.1.1700000000001.IwAR-click" };
  const r = await raw("POST", "/api/v1/tracking/consent", browserish({ "content-type": "text/plain" }), body);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.cookies._fbp.value, body.fbp);
  assert.equal(r.cookies._fbc.value, body.fbc);
  assert.equal(r.cookies._fbp.httponly, undefined, "Meta's pixel and the tag read _fbp");
  assert.equal(r.cookies._fbp.samesite, "Lax");
  assert.equal(r.cookies._fbp["max-age"], String(90 * 86400));
  assert.equal(r.cookies.pg_consent.value, "111.2024-06");
  assert.equal(r.cookies.pg_vid.value, "cookie-v1");

  // Injection attempts are never echoed into Set-Cookie.
  const evil = await raw("POST", "/api/v1/tracking/consent", browserish({ "content-type": "text/plain" }),
    { ...body, visitor_id: "cookie-v2", fbp: "fb.1.1700000000000.1; Domain=evil.example", fbc: "x" });
  assert.equal(evil.status, 201);
  assert.match(evil.cookies._fbp.value, /^fb\.1\.\d{13}\.\d{10}$/, "a fresh _fbp instead");
  assert.equal(evil.cookies._fbc, undefined);

  // The id call of a consented visitor refreshes the cookies (server-set, so no 7-day ITP cap).
  // The browser proves its visitor with the gateway's signature from the first answer.
  const own = `pg_vid=cookie-v1; pg_vsig=${r.cookies.pg_vsig.value}`;
  const id = await raw("GET", `/api/v1/tracking/id?site_key=${shop.site_key}`, browserish({ cookie: `${own}; _fbp=${body.fbp}; _fbc=${body.fbc}` }));
  assert.equal(id.json.consent.marketing, true);
  assert.equal(id.json.fbp, body.fbp);
  assert.equal(id.json.fbc, body.fbc);
  assert.equal(id.cookies._fbp.value, body.fbp);

  const rej = await raw("POST", "/api/v1/tracking/consent", browserish({ "content-type": "text/plain", cookie: `${own}; _fbp=${body.fbp}; _fbc=${body.fbc}` }),
    { ...body, marketing: false });
  assert.equal(rej.cookies._fbp["max-age"], "0");
  assert.equal(rej.cookies._fbc["max-age"], "0");
  assert.equal(rej.cookies.pg_consent.value, "101.2024-06");
});
