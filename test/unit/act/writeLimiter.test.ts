// The shared write gate: token bucket, concurrency bound, priorities, drain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DrainTimeoutError, LimiterClosedError, WriteLimiter } from "../../../src/act/writeLimiter.ts";
import { FakeTimers, flush } from "../sources/kube-fakes.ts";

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("burst goes at once, then qps", async () => {
  const timers = new FakeTimers();
  const limiter = new WriteLimiter({ qps: 10, burst: 3, concurrency: 100, timers });
  const startedAt: number[] = [];
  const all = Array.from({ length: 8 }, () => limiter.run(async () => void startedAt.push(timers.now())));
  await flush();
  assert.equal(startedAt.length, 3, "burst");
  await timers.advance(1000);
  await Promise.all(all);
  const t0 = startedAt[0]!;
  assert.deepEqual(
    startedAt.map((t) => t - t0),
    [0, 0, 0, 100, 200, 300, 400, 500],
  );
});

test("concurrency bound", async () => {
  const timers = new FakeTimers();
  const limiter = new WriteLimiter({ qps: 1000, burst: 1000, concurrency: 2, timers });
  const gates = Array.from({ length: 5 }, deferred);
  let running = 0;
  let peak = 0;
  const all = gates.map((g) =>
    limiter.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
    }),
  );
  await flush();
  assert.equal(limiter.stats().inFlight, 2);
  assert.equal(limiter.stats().queued, 3);
  for (const g of gates) g.resolve();
  await Promise.all(all);
  assert.equal(peak, 2);
});

test("high priority (patches) goes before low (events)", async () => {
  const timers = new FakeTimers();
  const limiter = new WriteLimiter({ qps: 10, burst: 1, concurrency: 10, timers });
  const order: string[] = [];
  const p = [
    limiter.run(async () => void order.push("first"), "low"),
    limiter.run(async () => void order.push("event"), "low"),
    limiter.run(async () => void order.push("patch"), "high"),
  ];
  await timers.advance(1000);
  await Promise.all(p);
  assert.deepEqual(order, ["first", "patch", "event"]);
});

test("results and errors pass through", async () => {
  const limiter = new WriteLimiter({ timers: new FakeTimers() });
  assert.equal(await limiter.run(async () => 42), 42);
  await assert.rejects(
    limiter.run(async () => {
      throw new Error("409");
    }),
    /409/,
  );
  await assert.rejects(
    limiter.run(() => {
      throw new Error("sync");
    }),
    /sync/,
  );
});

test("drain waits for queued and in-flight writes, then refuses new ones", async () => {
  const timers = new FakeTimers();
  const limiter = new WriteLimiter({ qps: 10, burst: 1, concurrency: 1, timers });
  const g = deferred();
  let done = 0;
  const a = limiter.run(async () => {
    await g.promise;
    done++;
  });
  const b = limiter.run(async () => void done++);
  let drained = false;
  const d = limiter.drain().then(() => (drained = true));
  await assert.rejects(
    limiter.run(async () => 1),
    LimiterClosedError,
  );
  await flush();
  assert.equal(drained, false);
  g.resolve();
  await timers.advance(200);
  await Promise.all([a, b, d]);
  assert.equal(done, 2);
  assert.equal(drained, true);
});

test("drain with a timeout", async () => {
  const timers = new FakeTimers();
  const limiter = new WriteLimiter({ timers });
  void limiter.run(() => new Promise(() => {}));
  const d = limiter.drain(5000);
  const check = assert.rejects(d, DrainTimeoutError);
  await timers.advance(5000);
  await check;
});
