import assert from "node:assert/strict";
import { test } from "node:test";
import { Hold } from "../../../src/wake/hold.ts";

const limits = { maxRequests: 3, maxBytes: 1_000 };

test("admits up to the request cap, then answers queue_full; a release makes room", () => {
  const hold = new Hold<string>(limits);
  const ids = [0, 1, 2].map((i) => {
    const a = hold.admit("a.example", 0, 100, 10, `r${i}`);
    assert.ok(a.ok);
    return a.entry.id;
  });
  assert.deepEqual(hold.admit("b.example", 0, 100, 10, "r3"), { ok: false, cause: "queue_full" });
  assert.equal(hold.size, 3);
  assert.equal(hold.bytes, 30);
  hold.release(ids[1] as number);
  assert.equal(hold.release(ids[1] as number), undefined, "a second release is a no-op");
  assert.ok(hold.admit("b.example", 0, 100, 10, "r3").ok);
  assert.deepEqual(hold.hosts().sort(), ["a.example", "b.example"]);
});

test("the bytes cap counts headers at admission and the body as it grows", () => {
  const hold = new Hold<string>(limits);
  assert.deepEqual(hold.admit("a", 0, 100, 1_001, "big"), { ok: false, cause: "queue_full" });
  const a = hold.admit("a", 0, 100, 400, "x");
  assert.ok(a.ok);
  assert.ok(hold.grow(a.entry.id, 500));
  assert.equal(hold.grow(a.entry.id, 101), false, "901 + 101 > 1000");
  assert.equal(hold.bytes, 900);
  assert.equal(hold.grow(9999, 1), false, "unknown id");
  hold.release(a.entry.id);
  assert.equal(hold.bytes, 0);
  assert.equal(hold.size, 0);
  assert.deepEqual(hold.hosts(), [], "a host with nothing held is forgotten");
});

test("deadlines: nextDeadline is the earliest, expire(now) removes exactly those due", () => {
  const hold = new Hold<string>({ maxRequests: 10, maxBytes: 10_000 });
  assert.equal(hold.nextDeadline(), undefined);
  hold.admit("a", 0, 300, 1, "late");
  hold.admit("a", 0, 100, 1, "early");
  hold.admit("b", 0, 200, 1, "middle");
  assert.equal(hold.nextDeadline(), 100);
  assert.deepEqual(hold.expire(99), []);
  assert.deepEqual(
    hold.expire(200).map((e) => e.payload),
    ["early", "middle"],
  );
  assert.equal(hold.nextDeadline(), 300);
  assert.deepEqual(
    hold.expire(Number.POSITIVE_INFINITY).map((e) => e.payload),
    ["late"],
  );
  assert.equal(hold.size, 0);
});

test("assignService: deadlines from the service's timeout, the newest beyond its cap are returned", () => {
  const hold = new Hold<string>({ maxRequests: 10, maxBytes: 10_000 });
  for (const [i, t] of [10, 20, 30, 40].entries()) hold.admit("a", t, 1_000_000, 1, `r${i}`);
  const over = hold.assignService("a", { key: "ns/m", maxHeldRequests: 2 }, 500);
  assert.deepEqual(
    over.map((e) => e.payload),
    ["r2", "r3"],
  );
  assert.deepEqual(
    hold.forHost("a").map((e) => [e.payload, e.deadline]),
    [
      ["r0", 510],
      ["r1", 520],
    ],
  );
  // the service's cap applies to new arrivals on any of its hosts
  assert.deepEqual(hold.admit("a-predictor", 50, 550, 1, "r4", { key: "ns/m", maxHeldRequests: 2 }), { ok: false, cause: "queue_full" });
  hold.release(hold.forHost("a")[0]?.id as number);
  assert.ok(hold.admit("a-predictor", 50, 550, 1, "r4", { key: "ns/m", maxHeldRequests: 2 }).ok);
  // assigning again (a poll) changes nothing and rejects nothing
  assert.deepEqual(hold.assignService("a", { key: "ns/m", maxHeldRequests: 2 }, 500), []);
});

test("takeHost removes every request of one host only", () => {
  const hold = new Hold<string>({ maxRequests: 10, maxBytes: 10_000 });
  hold.admit("a", 0, 10, 5, "a1");
  hold.admit("b", 0, 10, 5, "b1");
  hold.admit("a", 0, 10, 5, "a2");
  assert.deepEqual(
    hold.takeHost("a").map((e) => e.payload),
    ["a1", "a2"],
  );
  assert.equal(hold.size, 1);
  assert.equal(hold.bytes, 5);
  assert.deepEqual(hold.takeHost("nobody"), []);
  assert.equal(hold.countHost("b"), 1);
  assert.equal(hold.countHost("a"), 0);
});
