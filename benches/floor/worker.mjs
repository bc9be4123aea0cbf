// The platform floor of the event endpoint, for benches/http.mjs: a plain JS Worker whose beacon
// does only what no design of ours can skip — one durable dedup claim in a Durable Object before
// the 202 — next to its own hello world. Its ratio bounds what the gateway can reach on the same
// harness: everything else the gateway does (validate, normalize, hash, route, the outbox, the
// queue, the consumer, D1, the platforms) comes on top.
import { DurableObject } from "cloudflare:workers";

const SHARDS = 4;

export class FloorShard extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS seen (k TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID");
  }

  async fetch(request) {
    const key = await request.text();
    const fresh = this.sql.exec("INSERT INTO seen (k, ts) VALUES (?, ?) ON CONFLICT(k) DO NOTHING RETURNING k",
      key, Date.now()).toArray().length === 1;
    return Response.json({ fresh });
  }
}

export default {
  async fetch(request, env) {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/claim") return new Response("ok");
    const { event_id } = JSON.parse(await request.text());
    let h = 0;
    for (let i = 0; i < event_id.length; i++) h = (h * 31 + event_id.charCodeAt(i)) >>> 0;
    const stub = env.FLOOR.get(env.FLOOR.idFromName(`shard-${h % SHARDS}`));
    const { fresh } = await (await stub.fetch("https://floor.internal/", { method: "POST", body: event_id })).json();
    return Response.json({ accepted: fresh ? 1 : 0, duplicates: fresh ? 0 : 1, rejected: [] }, { status: 202 });
  },
};
