#!/usr/bin/env node
// A fake of every platform API pixelgate talks to. It records each request and answers like the
// real platform would (or as scripted), so tests and `scripts/dev` never reach the internet.
//
// Control endpoints (JSON):
//   GET  /__requests?prefix=/v21.0/   recorded requests, oldest first
//   POST /__reset                     forget requests and scripts
//   POST /__script {prefix, responses:[{status, body, headers, hang_ms}], repeat_last?}
//        the next requests whose path starts with `prefix` get these answers in order.
//   GET  /__health
//
// Usage: node scripts/fake-upstream.mjs [port]   (prints "fake-upstream listening on PORT")
import http from "node:http";

export function startFakeUpstream(port = 0) {
  const requests = [];
  let scripts = [];

  function defaultAnswer(path, body) {
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
      if (url.pathname === "/__reset") { requests.length = 0; scripts = []; return send(200, { ok: true }); }
      if (url.pathname === "/__script") {
        const s = JSON.parse(body);
        scripts.push({ prefix: s.prefix, responses: s.responses.slice(), repeatLast: !!s.repeat_last });
        return send(200, { ok: true });
      }
      const entry = { at: Date.now(), method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body };
      requests.push(entry);
      const script = scripts.find((s) => url.pathname.startsWith(s.prefix) && s.responses.length > 0);
      let answer = defaultAnswer(url.pathname, body);
      if (script) {
        answer = script.repeatLast && script.responses.length === 1 ? script.responses[0] : script.responses.shift();
      }
      entry.answered = answer.status;
      const finish = () => {
        if (res.destroyed) return;
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port } = await startFakeUpstream(Number(process.argv[2] || 0));
  console.log(`fake-upstream listening on ${port}`);
}
