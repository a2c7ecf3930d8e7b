import { test } from "node:test";
import assert from "node:assert/strict";
import { drainWrites } from "../../../src/daemon/shutdown.ts";
import { WriteLimiter } from "../../../src/act/writeLimiter.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

test("shutdown writes the Events still batched before the limiter closes", async () => {
  const limiter = new WriteLimiter();
  const written: string[] = [];
  // An EventRecorder with one repeat waiting for its interval: flush() hands it to the limiter.
  const events = {
    async flush() {
      await Promise.resolve();
      await limiter.run(async () => {
        written.push("count=2");
      }, "low");
    },
  };
  await drainWrites({ events, limiter, log: quiet }, 1_000);
  assert.deepEqual(written, ["count=2"]);
});

test("a flush that never ends cannot hold the shutdown past its budget", async () => {
  const limiter = new WriteLimiter();
  const started = Date.now();
  await drainWrites({ events: { flush: () => new Promise<void>(() => {}) }, limiter, log: quiet }, 50);
  assert.ok(Date.now() - started < 1_000);
});
