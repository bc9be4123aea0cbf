// Starts the two built Workers (the beacon Worker and, behind its JOBS service binding, the jobs
// Worker) in one real workerd (multi-config wrangler dev --local: KV, D1, Queues, Durable Objects,
// cron) with every platform base pointed at an in-process fake upstream.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, cpSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";
import { startFakeUpstream } from "../../scripts/fake-upstream.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
export const ADMIN_TOKEN = "test-admin-token-0123456789";
const ENC_KEY = Buffer.alloc(32, 7).toString("base64");

const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");

/**
 * wrangler dev's local explorer and trace collector store a trace of every invocation (request,
 * DO call, alarm, queue batch) in SQLite on the same workerd thread: dev tooling that would be
 * measured as ours by the bench, and that slows the tests. Production has neither.
 */
export function wranglerEnv() {
  return { ...process.env, PIXELGATE_PREBUILT: "1", WRANGLER_SEND_METRICS: "false", CI: "true",
    X_LOCAL_OBSERVABILITY: "false", X_LOCAL_EXPLORER: "false" };
}

async function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

/**
 * Where the local KV, D1, Queue and Durable Object state goes: RAM when the machine has
 * /dev/shm. workerd keeps that state in SQLite files and syncs them to disk on its one thread; on
 * a VM disk each sync stalls every request in flight for about a millisecond (about 1.5 per
 * event), which production, where storage is a remote service, never does to the isolate.
 */
export function stateRoot() {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/**
 * The beacon Worker's rate limits in tests: high unless a test asks for its own, so the other
 * tests (all from 127.0.0.1, most to one tenant) and the bench run through the limiter without
 * being refused by it.
 */
const TEST_RATE_LIMITS = { TENANT_RATE_LIMITER: 1_000_000, NETWORK_RATE_LIMITER: 1_000_000 };

export async function startGateway(extraVars = {}, { rateLimits = {} } = {}) {
  const fake = await startFakeUpstream(0);
  const up = `http://127.0.0.1:${fake.port}`;
  const dir = mkdtempSync(join(stateRoot(), "pixelgate-e2e-"));
  const limits = { ...TEST_RATE_LIMITS, ...rateLimits };
  const vars = {
    ADMIN_TOKEN, TOKEN_ENCRYPTION_KEY: ENC_KEY,
    META_GRAPH_BASE: up, GA4_MP_BASE: up, LINKEDIN_API_BASE: up, TIKTOK_API_BASE: up, GOOGLE_ADS_API_BASE: up,
    RETRY_BASE_SECONDS: "1", OUTBOUND_TIMEOUT_MS: "2000",
    // Tenant webhooks in the tests are the fake upstream on 127.0.0.1.
    ALLOW_LOOPBACK_WEBHOOKS: "1",
    // Webhook host names are resolved over DNS over HTTPS at send time: the fake answers.
    DNS_OVER_HTTPS_URL: `${up}/dns-query`,
    // Ads accounts: OAuth endpoints and app credentials, all at the fake.
    META_OAUTH_DIALOG_BASE: up, GOOGLE_OAUTH_BASE: up, GOOGLE_ACCOUNTS_BASE: up,
    META_APP_ID: "fake-meta-app", META_APP_SECRET: "fake-meta-secret",
    GOOGLE_OAUTH_CLIENT_ID: "fake-google-client", GOOGLE_OAUTH_CLIENT_SECRET: "fake-google-secret",
    GOOGLE_ADS_DEVELOPER_TOKEN: "fake-dev-token", ...extraVars,
  };
  // Run a private copy of the build with a config of absolute paths and no [build] step, so a
  // rebuild or a source edit elsewhere never reloads the worker under a running test.
  for (const d of ["build", "build-jobs", "static"]) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  const privateConfig = (name) => {
    const config = readFileSync(join(ROOT, name), "utf8")
      .replace(/^main = "(.*)"$/m, (_, main) => `main = "${join(dir, main)}"`)
      .replace(/^\[build\][\s\S]*?(?=^\[)/m, "")
      .replace(/^directory = "static"$/m, `directory = "${join(dir, "static")}"`)
      .replace(/^migrations_dir = "migrations"$/m, `migrations_dir = "${join(ROOT, "migrations")}"`)
      .replace(/^name = "(\w+_RATE_LIMITER)"\nnamespace_id = "(\d+)"\nsimple = \{ limit = \d+/gm,
        (m, name, ns) => `name = "${name}"\nnamespace_id = "${ns}"\nsimple = { limit = ${limits[name]}`);
    writeFileSync(join(dir, name), config);
    return join(dir, name);
  };
  const configFile = privateConfig("wrangler.toml");
  const jobsConfigFile = privateConfig("wrangler.jobs.toml");
  const env = wranglerEnv();
  /** Starts both Workers on `dir`'s state with `vars` (.dev.vars beside the configs: wrangler gives it to both Workers; --env-file reaches only the first). */
  const boot = async (vars) => {
    writeFileSync(join(dir, ".dev.vars"), Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    execFileSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "-c", configFile, "--persist-to", dir], { cwd: ROOT, env, stdio: "pipe" });
    return startWorkers({ configs: [configFile, jobsConfigFile], dir, env, readyPath: "/healthz", extraArgs: ["--test-scheduled"] });
  };
  let dev = await boot(vars);
  const visitorCookies = new Map();
  const gw = {
    base: dev.base, fake, upstream: up, dir, log: () => dev.log(),
    /** wrangler and its workerd processes share this process group (spawned detached). */
    processGroup: dev.child.pid,
    async stop() {
      // Keep workerd's output for post-mortems: E2E_LOG_DIR=/tmp/x scripts/test
      if (process.env.E2E_LOG_DIR) writeFileSync(join(process.env.E2E_LOG_DIR, `workerd-${dev.port}.log`), dev.log());
      await dev.stop();
      await new Promise((r) => fake.server.close(r));
    },
    /** Restarts both Workers on the same state (D1, KV, Durable Objects) with `changes` to their variables (null removes one): a redeploy with new configuration. */
    async restart(changes) {
      await dev.kill();
      for (const [k, v] of Object.entries(changes)) { if (v === null) delete vars[k]; else vars[k] = v; }
      dev = await boot(vars);
      gw.base = dev.base;
      gw.processGroup = dev.child.pid;
    },
    /** Reads (or changes) the local D1 directly, the same SQLite workerd uses: for what no API exposes. */
    sql(query) {
      const out = execFileSync(WRANGLER, ["d1", "execute", "DB", "--local", "-c", configFile, "--persist-to", dir, "--json", "--command", query],
        { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      return JSON.parse(out.toString())[0].results;
    },
    async req(method, path, { body, headers = {}, token } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      if (body !== undefined && !h["content-type"]) h["content-type"] = "application/json";
      const r = await fetch(gw.base + path, { method, headers: h, body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)) });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch {}
      return { status: r.status, json, text, headers: r.headers };
    },
    async tenant(domains = ["shop.example"]) {
      const r = await gw.req("POST", "/api/v1/tenants", { token: ADMIN_TOKEN, body: { name: "test shop", domains } });
      if (r.status !== 201) throw new Error("tenant: " + r.text);
      return r.json;
    },
    async pixel(apiKey, body) {
      const r = await gw.req("POST", "/api/v1/tracking/pixels", { token: apiKey, body });
      if (r.status !== 201) throw new Error("pixel: " + r.text);
      return r.json;
    },
    /**
     * A visitor's consent choice from its browser. The gateway's visitor cookies (pg_vid and its
     * signature pg_vsig) from the visitor's first choice go with its later ones, as a browser
     * sends them: a visitor id with a choice already on record takes a new one only from the
     * browser that proves it.
     */
    async consent(t, visitor_id, choice, origin = "https://shop.example") {
      const jar = `${t.site_key}|${visitor_id}`;
      const cookie = visitorCookies.get(jar);
      const r = await gw.req("POST", `/api/v1/tracking/consent?site_key=${t.site_key}`, { headers: { origin, "content-type": "text/plain", ...(cookie ? { cookie } : {}) },
        body: { visitor_id, version: "v1", analytics: false, marketing: false, functional: true, ...choice } });
      const set = r.headers.getSetCookie().map((c) => c.split(";")[0]).filter((c) => /^pg_v(id|sig)=./.test(c));
      if (set.length === 2) visitorCookies.set(jar, set.join("; "));
      return r;
    },
    async event(t, ev, { origin = "https://shop.example", batch = false } = {}) {
      const path = batch ? "/api/v1/tracking/events/batch" : "/api/v1/tracking/events";
      return gw.req("POST", `${path}?site_key=${t.site_key}`, { headers: { origin, "content-type": "text/plain", "user-agent": "Mozilla/5.0 (e2e)" }, body: ev });
    },
    async upstream(prefix = "") {
      return (await fetch(`${up}/__requests?prefix=${encodeURIComponent(prefix)}`)).json();
    },
    async script(prefix, responses, repeat_last = false) {
      await fetch(`${up}/__script`, { method: "POST", body: JSON.stringify({ prefix, responses, repeat_last }) });
    },
    async recent(apiKey) {
      return (await gw.req("GET", "/api/v1/tracking/events/recent", { token: apiKey })).json.events;
    },
    /** Triggers a cron in workerd, optionally as of another time (seconds): wrangler's /__scheduled
     *  ignores `time`, miniflare's own trigger endpoint passes it as the event's scheduledTime. */
    async cron(expr, at) {
      const q = new URLSearchParams({ cron: expr });
      if (at) q.set("time", String(at * 1000));
      const url = `${gw.base}${at ? "/cdn-cgi/local/scheduled" : "/__scheduled"}?${q}`;
      // Right after `wrangler d1 execute` read the same local database, wrangler dev's proxy now
      // and then closes the next connection at once ("other side closed", before any code of
      // ours runs, under load): the trigger is sent again then; a run that fails is a failure.
      const r = await fetch(url).catch(async (e) => {
        if (e.cause?.code !== "UND_ERR_SOCKET") throw e;
        await sleep(500);
        return fetch(url);
      });
      if (r.status !== 200) throw new Error(`cron ${expr}: ${r.status} ${await r.text()}`);
    },
  };
  return gw;
}

/**
 * `wrangler dev --local` of `configs` (one workerd; state under `dir`), in its own process group,
 * once `readyPath` answers. `stop()` ends it and removes `dir`.
 */
export async function startWorkers({ configs, dir, env = wranglerEnv(), readyPath = "/", extraArgs = [] }) {
  const port = await freePort();
  const child = spawn(WRANGLER, ["dev", ...configs.flatMap((c) => ["-c", c]), "--local", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", dir,
    "--show-interactive-dev-session=false", "--inspector-port", String(await freePort()), ...extraArgs],
  { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { const r = await fetch(base + readyPath); if (r.ok) break; } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("wrangler dev did not start:\n" + log);
    await sleep(200);
  }
  const kill = async () => {
    try { process.kill(-child.pid, "SIGTERM"); } catch {}
    for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
    await sleep(300);
  };
  return {
    base, port, child, log: () => log,
    /** Ends the Workers, keeping their state under `dir`. */
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor(fn, { timeout = 15_000, every = 150, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

export function sha256(s) {
  return execFileSync("sha256sum", { input: s }).toString().split(" ")[0];
}
