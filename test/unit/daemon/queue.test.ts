import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyedQueue } from "../../../src/daemon/queue.ts";

test("work for one key runs in order, one at a time; keys run in parallel; empty queues are dropped", async () => {
  const errors: string[] = [];
  const q = new KeyedQueue((key, err) => errors.push(`${key}:${String(err)}`));
  const log: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const job = (key: string, label: string, ms: number) =>
    q.run(key, async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${label}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${label}`);
      running--;
    });
  void job("a", "a1", 20);
  void job("a", "a2", 1);
  void q.run("a", async () => {
    throw new Error("boom");
  });
  void job("a", "a3", 1);
  void job("b", "b1", 5);
  await q.drain();
  const a = log.filter((l) => l.includes(" a"));
  assert.deepEqual(a, ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]);
  assert.equal(maxRunning, 2, "a and b overlapped");
  assert.deepEqual(errors, ["a:Error: boom"]);
  assert.equal(q.size, 0);
});
