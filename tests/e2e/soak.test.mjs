// The short fault-injection soak (scripts/soak runs the long one): 30 % of platform requests
// fail in every way a platform fails, and still every consented (event, destination) pair is
// acknowledged exactly once, nothing reaches a platform for a visitor who did not consent, and
// nothing is sent twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { soak } from "./soak.mjs";

test("fault-injection soak: exactly once under 30 % platform faults", { timeout: 170_000 }, async () => {
  const r = await soak({ events: Number(process.env.SOAK_EVENTS || 200), faultRate: 0.3, settleMs: 80_000, log: (m) => console.log(`# soak: ${m}`) });
  console.log(`# soak result: ${JSON.stringify(r)}`);
  assert.equal(r.send_errors, 0);
  assert.equal(r.accepted, r.events, "every distinct event accepted once");
  assert.equal(r.duplicates, r.resent, "each concurrent re-send answered as a duplicate");
  assert.equal(r.rejected, 0);
  assert.equal(r.delivered_twice, 0, `sent twice: ${r.examples.twice}`);
  assert.equal(r.leaked_to_denied, 0, `reached a platform without consent: ${r.examples.leaked}`);
  assert.ok(Object.keys(r.faults).length >= 5, `fault kinds seen: ${JSON.stringify(r.faults)}`);
  if (r.failed_then_replayed !== null) assert.equal(r.lost, 0, `lost: ${r.examples.missing}`);
  for (const [status, n] of Object.entries(r.unsettled)) assert.equal(n, 0, `${n} deliveries left ${status}`);
});
