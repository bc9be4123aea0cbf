// The two Workers: the beacon Worker stays small and keeps platform code out, forwards what it
// does not serve to the jobs Worker, and never exposes the jobs Worker's internal cron endpoint.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { resolve } from "node:path";
import { startGateway, ADMIN_TOKEN, waitFor } from "./harness.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
/** Issue 3's budget for the wasm on the beacon path. */
const BEACON_WASM_GZIP_MAX = 350_000;
let gw, shop;

before(async () => {
  gw = await startGateway();
  shop = await gw.tenant(["shop.example"]);
});
after(async () => { await gw?.stop(); });

test("the beacon Worker's wasm is within 350 KB gzip and carries no platform client code", () => {
  const beacon = readFileSync(resolve(ROOT, "build/index_bg.wasm"));
  const jobs = readFileSync(resolve(ROOT, "build-jobs/index_bg.wasm"));
  const gz = gzipSync(beacon, { level: 9 }).length;
  console.log(`# beacon wasm ${beacon.length} B, ${gz} B gzip; jobs wasm ${jobs.length} B, ${gzipSync(jobs, { level: 9 }).length} B gzip`);
  assert.ok(gz <= BEACON_WASM_GZIP_MAX, `beacon wasm is ${gz} B gzip`);
  // Strings only the jobs Worker holds: the ads module's SQL, Google Ads' query language, a replay's claim, the event shards' SQL.
  for (const marker of ["INSERT INTO ads_daily_metrics", "googleAds:searchStream", "usersreplace", "replays = jobs.replays + 1", "INSERT INTO parcels"]) {
    assert.ok(!beacon.includes(marker), `beacon wasm holds "${marker}"`);
    assert.ok(jobs.includes(marker), `jobs wasm lacks "${marker}"`);
  }
});

test("endpoints that call platforms are forwarded to the jobs Worker; Bearer answers carry no CORS", async () => {
  const px = await gw.pixel(shop.api_key, { platform: "meta", pixel_id: "555000111", access_token: "tok" });
  await gw.script("/v24.0/555000111", [{ status: 200, body: { id: "555000111", name: "Shop pixel" } }]);
  const r = await gw.req("POST", `/api/v1/tracking/pixels/${px.id}/verify`, {
    token: shop.api_key, headers: { origin: "https://admin.shop.example" },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.http_status, 200);
  // A Bearer endpoint is not for cross-origin pages (the dashboard is same-origin).
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  assert.equal(r.headers.get("access-control-allow-credentials"), null);
  assert.equal((await gw.upstream("/v24.0/555000111")).length, 1, "the jobs Worker called Meta once");

  const ads = await gw.req("GET", "/api/v1/ads/accounts", { token: shop.api_key });
  assert.equal(ads.status, 200, ads.text);
  assert.deepEqual(ads.json.accounts, []);
  // Unknown endpoints are answered by the beacon Worker itself.
  const missing = await gw.req("GET", "/api/v1/nothing-here");
  assert.equal(missing.status, 404);
});

test("the jobs Worker's cron endpoint is not reachable through the beacon Worker; cron runs are", async () => {
  for (const method of ["POST", "GET"]) {
    const r = await gw.req(method, "/internal/cron?cron=15+3+*+*+*", { token: ADMIN_TOKEN });
    assert.equal(r.status, 404, `${method} ${r.text}`);
  }
  const cron = await fetch(`${gw.base}/__scheduled?cron=${encodeURIComponent("15 3 * * *")}`);
  assert.equal(cron.status, 200);
  await waitFor(() => /retention \(15 3 \* \* \*\): \d+ ips cleared/.test(gw.log()), { what: "retention log from the jobs Worker" });
});
