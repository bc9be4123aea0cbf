// HTTP throughput and latency of the event endpoint vs. hello-world routes on the same workerd in
// the same run, and the ack latency while the platforms hang. Prints one JSON object.
// Usage (from scripts/bench): node benches/http.mjs [seconds] [concurrency[,concurrency…]]
// Two hello-world baselines: `GET /healthz`, and `POST /healthz` with the event's own body (the same
// bytes through the client, wrangler's proxy and the runtime, none of the gateway's work).
// Measured in steady state: a warm-up first lets V8 finish tiering the wasm up (it compiles hot
// functions with TurboFan in the background for the first seconds of load). Each concurrency then
// alternates hello and event runs in three rounds (a third of the seconds each), so drift of a
// shared machine hits all sides alike; the ratio of each round shows the spread.
// Last, the platform floor (benches/floor/worker.mjs): the same comparison for a JS Worker that
// only makes one Durable Object dedup claim per beacon, the least any exactly-once design must do.
import { readdirSync, readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { startGateway, startWorkers, stateRoot, sleep } from "../tests/e2e/harness.mjs";

const SECONDS = Number(process.argv[2] || 12);
const CONCURRENCIES = String(process.argv[3] || "16,64").split(",").map(Number);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS || 15);
const ROUNDS = 3;

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `make()` requests from `concurrency` loops for `seconds`; returns rps and latencies. */
async function load(make, { seconds, concurrency }) {
  return summarize(await measure(make, { seconds, concurrency }));
}

async function measure(make, { seconds, concurrency }) {
  const lat = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const r = await make();
        await r.arrayBuffer();
        if (r.status >= 400) errors++;
      } catch { errors++; }
      lat.push(performance.now() - s);
    }
  }));
  return { lat, errors, elapsed: (performance.now() - t0) / 1000 };
}

/**
 * CPU time (ms) so far of the gateway's processes, by name (workerd, node for wrangler), and of
 * this process (the load generator and the fake platform upstream), from /proc. CPU per request
 * is steadier than requests/s on a shared machine, and it says where an event's extra time goes.
 */
function cpuMs(processGroup) {
  const out = { bench_and_fake_upstream: (process.cpuUsage().user + process.cpuUsage().system) / 1000 };
  let pids = [];
  try { pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p)); } catch { return null; }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [comm, rest] = [stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), stat.slice(stat.lastIndexOf(")") + 2).split(" ")];
      if (Number(rest[2]) !== processGroup) continue; // field 5: process group
      const name = comm === "workerd" ? "workerd" : "wrangler_node";
      out[name] = (out[name] || 0) + (Number(rest[11]) + Number(rest[12])) * 10; // utime + stime, 100 Hz ticks
    } catch {}
  }
  return out;
}

/** CPU ms per request by process, and their total, from the CPU `used` over `requests`. */
function cpuPerRequest(used, requests) {
  const per = {};
  let total = 0;
  for (const [k, ms] of Object.entries(used)) {
    per[k] = Math.round((ms / requests) * 100) / 100;
    total += per[k];
  }
  return { total: Math.round(total * 100) / 100, ...per };
}

function summarize(...runs) {
  const lat = runs.flatMap((r) => r.lat).sort((a, b) => a - b);
  const elapsed = runs.reduce((t, r) => t + r.elapsed, 0);
  const errors = runs.reduce((t, r) => t + r.errors, 0);
  const r2 = (x) => x === null ? null : Math.round(x * 100) / 100;
  const out = { requests: lat.length, errors, rps: Math.round(lat.length / elapsed), p50_ms: r2(percentile(lat, 50)), p99_ms: r2(percentile(lat, 99)) };
  const cpu = runs.map((r) => r.cpu).filter(Boolean);
  if (cpu.length === runs.length) {
    const sum = {};
    for (const c of cpu) for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] || 0) + v;
    out.cpu_ms_per_request = cpuPerRequest(sum, lat.length);
  }
  return out;
}

const ratio = (e, h) => Math.round((e.rps / h.rps) * 1000) / 1000;
const byRound = (events, hello) => events.map((r, i) => ratio(summarize(r), summarize(hello[i])));
const cpuRatio = (h, e) => h.cpu_ms_per_request && e.cpu_ms_per_request
  ? Math.round((h.cpu_ms_per_request.total / e.cpu_ms_per_request.total) * 1000) / 1000 : null;

/**
 * Runs every kind for a third of SECONDS, in ROUNDS rounds, so drift of a shared machine hits all
 * kinds alike; each run carries the CPU its processes used, including `settleMs(kind)` after it.
 */
async function alternate(kinds, concurrency, processGroup, settleMs) {
  const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, make] of Object.entries(kinds)) {
      const before = cpuMs(processGroup);
      const run = await measure(make, { seconds: SECONDS / ROUNDS, concurrency });
      await sleep(settleMs(kind));
      const after = cpuMs(processGroup);
      if (before && after) run.cpu = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] || 0)]));
      runs[kind].push(run);
    }
  }
  return runs;
}

/**
 * The platform floor (benches/floor): a JS Worker on the same workerd and settings whose beacon
 * does one durable dedup claim in a Durable Object and nothing else, against its own hello.
 */
async function floor(concurrency) {
  const dev = await startWorkers({ configs: [join(import.meta.dirname, "floor/wrangler.toml")],
    dir: mkdtempSync(join(stateRoot(), "pixelgate-floor-")) });
  try {
    const kinds = {
      hello_get: () => fetch(`${dev.base}/`),
      hello_post: () => fetch(`${dev.base}/`, { method: "POST", headers, body: body() }),
      claim: () => fetch(`${dev.base}/claim`, { method: "POST", headers, body: body() }),
    };
    for (const make of Object.values(kinds)) await load(make, { seconds: 2, concurrency: 4 });
    const runs = await alternate(kinds, concurrency, dev.child.pid, () => 500);
    const [hg, hp, claim] = [summarize(...runs.hello_get), summarize(...runs.hello_post), summarize(...runs.claim)];
    return { concurrency, hello_get: hg, hello_post: hp, claim,
      ratio_vs_get: ratio(claim, hg), ratio_vs_post: ratio(claim, hp),
      ratio_vs_get_by_round: byRound(runs.claim, runs.hello_get), ratio_vs_post_by_round: byRound(runs.claim, runs.hello_post),
      cpu_ratio_vs_get: cpuRatio(hg, claim), cpu_ratio_vs_post: cpuRatio(hp, claim) };
  } finally {
    await dev.stop();
  }
}

let n = 0;
/** A purchase beacon as the tag sends it, with a fresh event id each time. */
const body = () => JSON.stringify({
  event_id: `bench-${process.pid}-${n++}`, event_name: "purchase", visitor_id: "bench-visitor", url: "https://shop.example/thanks",
  user_data: { email: "bench.user@example.com", phone: "+1 415 555 2671", first_name: "Ana", last_name: "López", country: "US", zip: "94103" },
  custom_data: { value: 42.5, currency: "USD", content_ids: ["sku-1"] }, click_ids: { fbp: "fb.1.1700000000000.1234" },
});
const headers = { origin: "https://shop.example", "content-type": "text/plain", "user-agent": "Mozilla/5.0 (bench)" };

let result;
const gw = await startGateway({ RETRY_BASE_SECONDS: "30", OUTBOUND_TIMEOUT_MS: "10000" });
try {
  const t = await gw.tenant(["shop.example"]);
  await gw.pixel(t.api_key, { platform: "meta", pixel_id: "123456789", access_token: "tok" });
  await gw.pixel(t.api_key, { platform: "google", pixel_id: "G-BENCH123", api_secret: "s" });
  await gw.consent(t, "bench-visitor", { marketing: true, analytics: true });
  const url = `${gw.base}/api/v1/tracking/events?site_key=${t.site_key}`;
  const event = () => fetch(url, { method: "POST", headers, body: body() });
  const kinds = {
    hello_get: () => fetch(`${gw.base}/healthz`),
    hello_post: () => fetch(`${gw.base}/healthz`, { method: "POST", headers, body: body() }),
    events: event,
  };

  for (const make of Object.values(kinds)) await load(make, { seconds: 1, concurrency: 4 });
  await load(event, { seconds: WARMUP_SECONDS, concurrency: CONCURRENCIES[0] });
  await sleep(3000); // let the consumer drain the warm-up
  const throughput = [];
  for (const concurrency of CONCURRENCIES) {
    // Let the consumer drain after event runs, so the next run does not pay for it; the CPU the
    // drain takes counts for the events.
    const runs = await alternate(kinds, concurrency, gw.processGroup, (kind) => kind === "events" ? 2500 : 500);
    const [hg, hp, e] = [summarize(...runs.hello_get), summarize(...runs.hello_post), summarize(...runs.events)];
    throughput.push({ concurrency, hello_get: hg, hello_post: hp, events: e,
      ratio_vs_get: ratio(e, hg), ratio_vs_post: ratio(e, hp),
      // Per round (runs minutes apart see different machines here): the spread to expect.
      ratio_vs_get_by_round: byRound(runs.events, runs.hello_get),
      ratio_vs_post_by_round: byRound(runs.events, runs.hello_post),
      // The same comparison by machine CPU per request (less noisy than requests/s here).
      cpu_ratio_vs_get: cpuRatio(hg, e), cpu_ratio_vs_post: cpuRatio(hp, e) });
  }

  const calm = await load(event, { seconds: Math.max(3, SECONDS / 2), concurrency: 4 });
  await gw.script("/v24.0/", [{ status: 200, body: { events_received: 1 }, hang_ms: 2000 }], true);
  await gw.script("/mp/collect", [{ status: 204, body: "", hang_ms: 2000 }], true);
  const hanging = await load(event, { seconds: Math.max(3, SECONDS / 2), concurrency: 4 });

  result = { seconds: SECONDS, warmup_seconds: WARMUP_SECONDS, throughput,
    ack_while_platforms_answer: calm, ack_while_platforms_hang_2s: hanging };
} finally {
  await gw.stop();
}
result.floor = await floor(CONCURRENCIES[0]);
console.log(JSON.stringify(result));
// Every request must succeed: an error under load is a defect, not noise (the numbers above are
// printed anyway, for the post-mortem).
const measured = [...result.throughput.flatMap((t) => [t.hello_get, t.hello_post, t.events]),
  result.ack_while_platforms_answer, result.ack_while_platforms_hang_2s, result.floor.hello_get, result.floor.hello_post, result.floor.claim];
const errors = measured.reduce((n, r) => n + r.errors, 0);
if (errors) {
  console.error(`bench: ${errors} requests failed`);
  process.exitCode = 1;
}
