// What the ads tests share: connecting an account through the OAuth flow (start in the browser
// that will consent → the platform's consent → callback page → confirm), syncs and reports.
import assert from "node:assert/strict";

/** The OAuth browser-binding cookie the start answer sets, as a `Cookie` header value. */
export function oauthCookie(start) {
  const set = start.headers.getSetCookie().find((c) => /^(__Host-)?pg_oauth_/.test(c));
  assert.ok(set, "the start answer sets the OAuth cookie");
  return set.split(";")[0];
}

export const form = (fields) => ({ "content-type": "application/x-www-form-urlencoded", ...fields });

/** start → (user consents at the platform) → callback (the confirmation page naming the tenant)
 *  → confirm; returns the confirm answer as `cb`. */
export async function connect(gw, apiKey, platform, accountId, { code = "authcode" } = {}) {
  const start = await gw.req("GET", `/api/v1/ads/oauth/${platform}/start${accountId ? `?account_id=${accountId}` : ""}`, { token: apiKey });
  assert.equal(start.status, 200, start.text);
  const cookie = oauthCookie(start);
  const state = new URL(start.json.authorize_url).searchParams.get("state");
  const page = await gw.req("GET", `/api/v1/ads/oauth/${platform}/callback?code=${code}&state=${encodeURIComponent(state)}`, { headers: { cookie } });
  assert.equal(page.status, 200, page.text);
  const cb = await gw.req("POST", `/api/v1/ads/oauth/${platform}/confirm`, {
    headers: form({ cookie }), body: new URLSearchParams({ state, code }).toString(),
  });
  return { start, state, cb, cookie, page };
}

/** The fake upstream's base URL. */
export const upstreamBase = (gw) => `http://127.0.0.1:${gw.fake.port}`;

/** The fake upstream's data shape for an account (scripts/fake-upstream.mjs, POST /__ads). */
export async function adsShape(gw, account, shape) {
  await fetch(`${upstreamBase(gw)}/__ads`, { method: "POST", body: JSON.stringify({ account, ...shape }) });
}

/** UTC day `offset` days from today, YYYY-MM-DD. */
export function day(offset = 0) {
  return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
}

export const round4 = (x) => Math.round(x * 10000) / 10000;
