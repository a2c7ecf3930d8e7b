import { test } from "node:test";
import assert from "node:assert/strict";
import { RETRY_MAX_MS, retryDelay, WorkQueue } from "../../../src/daemon/queue.ts";
import { FakeClock } from "./harness.ts";

test("work for one key runs one at a time; keys run in parallel; empty keys are dropped", async () => {
  const clock = new FakeClock();
  const log: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const q = new WorkQueue(
    clock,
    async (key) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${key}`);
      await new Promise((r) => setTimeout(r, key === "a" ? 20 : 5));
      log.push(`end ${key}`);
      running--;
      return undefined;
    },
    () => assert.fail("nothing fails"),
  );
  q.add("a");
  q.add("b");
  await new Promise((r) => setTimeout(r, 1));
  q.add("a"); // while a runs: one more run after it
  await q.drain();
  assert.deepEqual(
    log.filter((l) => l.endsWith(" a")),
    ["start a", "end a", "start a", "end a"],
  );
  assert.equal(maxRunning, 2, "a and b overlapped");
  assert.deepEqual(q.keys(), []);
});

test("repeats of a key while it waits merge into one run, keeping the boundary that asked", async () => {
  const clock = new FakeClock();
  const runs: (number | undefined)[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue(
    clock,
    async (key, boundary) => {
      runs.push(boundary);
      if (key === "a" && runs.length === 1) await gate;
      return undefined;
    },
    () => {},
  );
  q.add("a");
  for (let i = 0; i < 100; i++) q.add("a", i === 50 ? 42 : undefined);
  release();
  await q.drain();
  assert.deepEqual(runs, [undefined, 42], "one run for the hundred repeats");
});

test("a run asks to be called again at recheckAt; a later answer replaces it; forget cancels it", async () => {
  const clock = new FakeClock();
  const runs: number[] = [];
  let next: number | undefined = clock.now() + 60_000;
  const q = new WorkQueue(
    clock,
    async () => {
      runs.push(clock.now());
      return next;
    },
    () => {},
  );
  q.add("a");
  await clock.advance(1);
  next = undefined;
  await clock.advance(60_000);
  assert.equal(runs.length, 2, "called again at recheckAt");
  assert.deepEqual(q.timed(), [], "the second run asked for nothing");
  next = clock.now() + 1_000;
  q.add("a");
  await clock.advance(1);
  assert.deepEqual(q.timed(), ["a"]);
  q.forget("a");
  await clock.advance(5_000);
  assert.equal(runs.length, 3);
  assert.deepEqual(q.keys(), []);
});

test("a failing key is retried with capped exponential backoff and reported each time; success resets it", async () => {
  const clock = new FakeClock();
  const started = clock.now();
  const attempts: { at: number; n: number; retryAt: number }[] = [];
  let failuresLeft = 4;
  const q = new WorkQueue(
    clock,
    async () => {
      if (failuresLeft-- > 0) throw new Error("boom");
      return undefined;
    },
    (_key, err, n, retryAt) => {
      assert.match(String(err), /boom/);
      attempts.push({ at: clock.now() - started, n, retryAt: retryAt - started });
    },
  );
  q.add("a");
  await clock.advance(10 * 60_000);
  assert.deepEqual(
    attempts.map((a) => [a.at, a.n, a.retryAt]),
    [
      [0, 1, 5_000],
      [5_000, 2, 15_000],
      [15_000, 3, 35_000],
      [35_000, 4, 75_000],
    ],
  );
  assert.deepEqual(q.keys(), [], "succeeded at 75 s and dropped");
  assert.equal(retryDelay(100), RETRY_MAX_MS);
});

test("after stop nothing new runs, and stop waits for the run in progress", async () => {
  const clock = new FakeClock();
  const runs: string[] = [];
  const q = new WorkQueue(
    clock,
    async (key) => {
      await new Promise((r) => setTimeout(r, 5));
      runs.push(key);
      return clock.now() + 1_000;
    },
    () => {},
  );
  q.add("a");
  await q.stop();
  q.add("b");
  await clock.advance(10_000);
  assert.deepEqual(runs, ["a"]);
});

test("at most maxRunning keys run at once, the others in the order they came; none is lost, repeats still merge", async () => {
  const clock = new FakeClock();
  let running = 0;
  let maxRunning = 0;
  const started: string[] = [];
  const releases: (() => void)[] = [];
  const q = new WorkQueue(
    clock,
    async (key) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      started.push(key);
      await new Promise<void>((r) => releases.push(r));
      running--;
      return undefined;
    },
    () => assert.fail("nothing fails"),
    3,
  );
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  for (const k of keys) q.add(k);
  q.add("k7"); // waiting already: merges
  assert.deepEqual(started, ["k0", "k1", "k2"]);
  q.add("k0"); // asked again while it runs: after the others
  while (releases.length > 0 || running > 0) {
    releases.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await q.drain();
  assert.equal(maxRunning, 3);
  assert.deepEqual(started, [...keys, "k0"]);
  assert.deepEqual(q.keys(), []);
});

test("a forgotten key waiting for its turn is not run; stop() leaves the waiting keys unrun", async () => {
  const clock = new FakeClock();
  const started: string[] = [];
  const releases: (() => void)[] = [];
  const q = new WorkQueue(
    clock,
    async (key) => {
      started.push(key);
      await new Promise<void>((r) => releases.push(r));
      return undefined;
    },
    () => assert.fail("nothing fails"),
    1,
  );
  q.add("a");
  q.add("b");
  q.add("c");
  q.forget("b");
  releases.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, ["a", "c"]);
  q.add("d");
  const stopping = q.stop();
  releases.shift()?.();
  await stopping;
  assert.deepEqual(started, ["a", "c"], "d never ran");
});

test("a nonsensical maxRunning (NaN, 0, a fraction) falls back to the default instead of letting nothing run", async () => {
  for (const bad of [Number.NaN, 0, -3, 0.5]) {
    const ran: string[] = [];
    const q = new WorkQueue(
      new FakeClock(),
      async (key) => {
        ran.push(key);
        return undefined;
      },
      () => assert.fail("nothing fails"),
      bad,
    );
    for (let i = 0; i < 100; i++) q.add(`k${i}`);
    await q.drain();
    assert.equal(ran.length, 100, `maxRunning ${bad}`);
  }
});
