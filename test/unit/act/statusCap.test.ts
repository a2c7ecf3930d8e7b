import { test } from "node:test";
import assert from "node:assert/strict";
import { STATUS_LIMITS, canonicalJson, capStatus } from "../../../src/act/scheduleStatus.ts";

const service = (i: number, message = "Stopped: outside all uptime windows") => ({
  name: `svc-${String(i).padStart(5, "0")}`,
  state: "Stopped",
  reason: "Schedule",
  gpus: 1,
  confirmed: true,
  message,
});
const ready = {
  type: "Ready",
  status: "True",
  reason: "Reconciled",
  message: "5000 services: 0 running, 5000 stopped",
  lastTransitionTime: "2026-12-01T00:00:00Z",
};

test("status size is capped: lists cut with a count of the rest, strings cut", () => {
  const big = {
    conditions: [ready],
    services: Array.from({ length: 5000 }, (_, i) => service(i, "m".repeat(5000))),
    running: 0,
    stopped: 5000,
    gpusReclaimed: 5000,
  };
  const capped = capStatus(big);
  const size = canonicalJson(capped).length;
  assert.ok(size <= STATUS_LIMITS.bytes, `${size} bytes`);
  assert.ok(capped.services.length <= STATUS_LIMITS.services);
  assert.ok(capped.services.every((s) => s.message.length <= STATUS_LIMITS.message));
  const note = capped.conditions[0]?.message ?? "";
  assert.match(note, new RegExp(`; ${5000 - capped.services.length} more services not listed in status$`));
  assert.equal(capped.stopped, 5000, "the totals still count every service");
  assert.deepEqual(capStatus(capped), capped, "idempotent, so it compares equal with what was written");
});

test("a 200 KB reason is cut to a word's length", () => {
  const capped = capStatus({ conditions: [ready], services: [{ ...service(1), reason: "r".repeat(200_000) }] });
  assert.ok(canonicalJson(capped).length < 4_000);
});

test("a small status is left as it is", () => {
  const small = { conditions: [ready], services: [service(1)], running: 0, stopped: 1 };
  assert.deepEqual(capStatus(small), small);
});
