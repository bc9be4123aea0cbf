// The fault-injection soak: events to four pixels while the fake platforms answer a share of
// requests with faults (5xx, 429 with Retry-After, hangs past the outbound timeout, connection
// resets, TikTok's HTTP-200 errors, Meta's is_transient), some events re-sent concurrently, single
// and batch endpoints, some visitors without consent. After the pipeline settles (and one replay of
// what failed, where the gateway has the replay endpoint) it checks, from what the fake platforms
// acknowledged: every consented (event, destination) pair exactly once, nothing for a denied
// visitor, nothing twice. Used by tests/e2e/soak.test.mjs (short) and scripts/soak (long).
import { startGateway, sleep } from "./harness.mjs";
import { mulberry32 } from "../../scripts/fake-upstream.mjs";

const PLATFORMS = ["meta", "google", "linkedin", "tiktok"];

/** Event ids in one recorded platform request, by platform. */
function eventIds(r) {
  let body;
  try { body = JSON.parse(r.body); } catch { return [null, []]; }
  if (/^\/v\d+\.\d+\/\d+\/events/.test(r.path)) return ["meta", (body.data ?? []).map((e) => e.event_id)];
  if (r.path.startsWith("/open_api/")) return ["tiktok", (body.data ?? []).map((e) => e.event_id)];
  if (r.path.startsWith("/rest/conversionEvents")) return ["linkedin", (body.elements ?? [body]).map((e) => e.eventId)];
  if (r.path.startsWith("/mp/collect")) return ["google", (body.events ?? []).map((e) => e.params?.transaction_id)];
  return [null, []];
}

/**
 * Runs one soak and returns its counts. `events`: how many distinct events; `faultRate`: the
 * share of platform requests answered with a fault; `log`: progress lines.
 */
export async function soak({ events = 300, faultRate = 0.3, seed = 7, concurrency = 8, settleMs = 90_000, hangMs = 3000, log = () => {} } = {}) {
  const gw = await startGateway();
  try {
    return await run(gw, { events, faultRate, seed, concurrency, settleMs, hangMs, log });
  } finally {
    await gw.stop();
  }
}

async function run(gw, { events, faultRate, seed, concurrency, settleMs, hangMs, log }) {
  const random = mulberry32(seed);
  const domain = "soak.example", origin = `https://${domain}`;
  const t = await gw.tenant([domain]);
  const ids = { meta: "4242424242", google: "G-SOAK12345", linkedin: "424242", tiktok: "CSOAKPIXEL0123456789" };
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: ids.meta, access_token: "meta-tok" });
  await gw.pixel(t.api_key, { platform: "google", pixel_id: ids.google, api_secret: "ga4-secret" });
  await gw.pixel(t.api_key, { platform: "linkedin", pixel_id: ids.linkedin, access_token: "li-tok" });
  await gw.pixel(t.api_key, { platform: "tiktok", pixel_id: ids.tiktok, access_token: "tt-tok" });

  // Visitors: most consent to everything, some to analytics only, some never answer the banner.
  const visitors = [];
  for (let i = 0; i < 24; i++) {
    const kind = i < 16 ? "all" : i < 20 ? "analytics" : "none";
    const v = { id: `soak-v${i}`, kind };
    if (kind !== "none") {
      const r = await gw.consent(t, v.id, { analytics: true, marketing: kind === "all" }, origin);
      if (r.status !== 201) throw new Error(`consent: ${r.status} ${r.text}`);
    }
    visitors.push(v);
  }
  const allowed = (v) => (v.kind === "all" ? PLATFORMS : v.kind === "analytics" ? ["google"] : []);

  await fetch(`http://127.0.0.1:${gw.fake.port}/__faults`, { method: "POST", body: JSON.stringify({ rate: faultRate, seed, hang_ms: hangMs }) });
  log(`faults at ${Math.round(faultRate * 100)} % of platform requests; sending ${events} events`);

  // The events, in sends of one (single endpoint) or up to 10 (batch); about one send in ten
  // goes twice at the same time.
  const planned = [];
  for (let i = 0; i < events; i++) {
    const v = visitors[Math.floor(random() * visitors.length)];
    planned.push({ v, ev: {
      event_id: `soak-${seed}-${i}`, event_name: "purchase", visitor_id: v.id, url: `${origin}/checkout/${i}`,
      user_data: { email: `buyer${i}@example.com`, phone: "+34 600 000 00" + (i % 10), country: "es" },
      custom_data: { value: 10 + (i % 50), currency: "EUR", content_ids: [`sku-${i % 7}`] },
      click_ids: { ga_client_id: `GA1.1.${1000 + i}.${2000 + i}`, ttclid: "E.C.P.soak", li_fat_id: "li-soak" },
    } });
  }
  const sends = [];
  for (let i = 0; i < planned.length;) {
    const n = random() < 0.5 ? 1 : 1 + Math.floor(random() * 10);
    sends.push(planned.slice(i, i + n));
    i += n;
  }
  const counts = { accepted: 0, duplicates: 0, rejected: 0, send_errors: 0, resent: 0 };
  const post = async (group) => {
    const batch = group.length > 1;
    const body = batch ? { events: group.map((g) => g.ev) } : group[0].ev;
    const r = await gw.event(t, body, { origin, batch });
    if (r.status !== 202) { counts.send_errors++; return; }
    counts.accepted += r.json.accepted;
    counts.duplicates += r.json.duplicates;
    counts.rejected += r.json.rejected.length;
  };
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < sends.length) {
      const group = sends[next++];
      if (random() < 0.1) {
        counts.resent += group.length;
        await Promise.all([post(group), post(group)]);
      } else {
        await post(group);
      }
    }
  }));
  log(`sent in ${Date.now() - t0} ms: ${JSON.stringify(counts)}`);

  // Settle: until no platform request for 8 s (retries are seconds apart in the harness).
  const quiet = async (limitMs) => {
    const end = Date.now() + limitMs;
    let seen = -1, stableSince = Date.now();
    while (Date.now() < end) {
      const n = (await gw.upstream("")).length;
      if (n !== seen) { seen = n; stableSince = Date.now(); }
      if (Date.now() - stableSince > 8000) return true;
      await sleep(1000);
    }
    return false;
  };
  const settled = await quiet(settleMs);
  log(`settled: ${settled}`);

  const tally = async () => {
    const acked = new Map(), reached = new Map();
    for (const r of await gw.upstream("")) {
      const [platform, list] = eventIds(r);
      if (!platform) continue;
      for (const id of list) {
        const key = `${id} ${platform}`;
        reached.set(key, (reached.get(key) ?? 0) + 1);
        if (r.acked) acked.set(key, (acked.get(key) ?? 0) + 1);
      }
    }
    const expected = new Set(), forbidden = new Set();
    for (const { v, ev } of planned) {
      for (const p of PLATFORMS) (allowed(v).includes(p) ? expected : forbidden).add(`${ev.event_id} ${p}`);
    }
    const missing = [...expected].filter((k) => !acked.has(k));
    const twice = [...acked].filter(([, n]) => n > 1).map(([k]) => k);
    const leaked = [...forbidden].filter((k) => reached.has(k));
    return { expected: expected.size, delivered: expected.size - missing.length, missing, twice, leaked };
  };
  let result = await tally();
  log(`before replay: ${result.delivered}/${result.expected} delivered, ${result.missing.length} missing, ${result.twice.length} twice, ${result.leaked.length} leaked`);

  // One replay of what failed, with faults off, where the gateway offers it.
  let replayed = null;
  await fetch(`http://127.0.0.1:${gw.fake.port}/__faults`, { method: "POST", body: JSON.stringify({ rate: 0 }) });
  const r = await gw.req("POST", "/api/v1/tracking/deliveries/replay", { token: t.api_key, body: { status: "failed" } });
  if (r.status === 202) {
    replayed = r.json.replayed;
    await quiet(60_000);
    result = await tally();
    log(`after replaying ${replayed}: ${result.delivered}/${result.expected} delivered`);
  } else {
    log(`no replay endpoint (${r.status}): the missing pairs are the failed deliveries`);
  }
  // Nothing may be left waiting, in flight or half-done, where the gateway lists deliveries.
  const unsettled = {};
  for (const status of ["queued", "sending", "retrying"]) {
    const l = await gw.req("GET", `/api/v1/tracking/deliveries?status=${status}&limit=200`, { token: t.api_key });
    if (l.status === 200) unsettled[status] = l.json.deliveries.length;
  }
  // What the gateway says of each missing pair: its status and the platform's reason.
  const trails = [];
  for (const k of result.missing.slice(0, 5)) {
    const [id, platform] = k.split(" ");
    const d = await gw.req("GET", `/api/v1/tracking/events/${id}`, { token: t.api_key });
    const dest = d.json?.destinations?.find((x) => x.platform === platform);
    trails.push(`${k}: ${d.status} ${JSON.stringify(dest ?? d.json)}`);
  }
  const faults = {};

  for (const q of await gw.upstream("")) if (q.fault) faults[q.fault] = (faults[q.fault] ?? 0) + 1;
  return {
    events, ...counts, faults, settled, unsettled,
    expected_pairs: result.expected, delivered_pairs: result.delivered, failed_then_replayed: replayed,
    lost: result.missing.length, delivered_twice: result.twice.length, leaked_to_denied: result.leaked.length,
    examples: { missing: trails, twice: result.twice.slice(0, 5), leaked: result.leaked.slice(0, 5) },

  };
}
