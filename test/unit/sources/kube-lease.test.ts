// The LeaderElector against an in-memory apiserver and fake timers: one leader of two, renewal,
// losing the lease when renewals fail past the deadline, and handing over on release.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaderElector } from "../../../src/sources/kube/lease.ts";
import { apiError, FakeCustomObjects, FakeTimers, kubeConfigFor } from "./kube-fakes.ts";

const LEASE = { group: "coordination.k8s.io", version: "v1", plural: "leases", namespace: "kserve-reclaimer" };

/** The same store, through a connection that fails every call while `broken()`. */
function flaky(api: FakeCustomObjects, broken: () => boolean): FakeCustomObjects {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => (broken() ? Promise.reject(apiError(500, "InternalError")) : value.apply(target, args));
    },
  });
}

function candidate(api: FakeCustomObjects, timers: FakeTimers, identity: string, log: string[]) {
  return new LeaderElector({
    kubeConfig: kubeConfigFor(api),
    namespace: LEASE.namespace,
    name: "kserve-reclaimer",
    identity,
    timers,
    random: () => 0,
    onStartedLeading: () => {
      log.push(`${identity} leads`);
    },
    onStoppedLeading: () => {
      log.push(`${identity} stopped`);
    },
  });
}

test("of two candidates one leads, renews, and the other waits", async () => {
  const api = new FakeCustomObjects();
  const timers = new FakeTimers();
  const log: string[] = [];
  const a = candidate(api, timers, "a", log);
  const b = candidate(api, timers, "b", log);
  a.start();
  await timers.advance(100);
  b.start();
  await timers.advance(60_000);
  assert.deepEqual(log, ["a leads"]);
  assert.equal(a.isLeader(), true);
  assert.equal(b.isLeader(), false);
  assert.equal(b.leader(), "a");
  const lease = api.get(LEASE, "kserve-reclaimer") as { spec?: { holderIdentity?: string; renewTime?: string } } | undefined;
  assert.equal(lease?.spec?.holderIdentity, "a");
  assert.ok(Date.parse(lease?.spec?.renewTime ?? "") > timers.now() - 3_000, "renewed every retry period");
  await a.stop();
  await b.stop();
});

test("a leader that cannot renew within the deadline stops leading, and the other takes over after the lease expires", async () => {
  const api = new FakeCustomObjects();
  const timers = new FakeTimers();
  const log: string[] = [];
  let broken = false;
  const a = candidate(
    flaky(api, () => broken),
    timers,
    "a",
    log,
  );
  a.start();
  await timers.advance(100);
  const b = candidate(api, timers, "b", log);
  b.start();
  await timers.advance(5_000);
  // a's connection to the apiserver breaks; b's still works
  broken = true;
  await timers.advance(11_000);
  assert.deepEqual(log.slice(0, 2), ["a leads", "a stopped"], "stops leading at the renew deadline (10 s)");
  assert.equal(a.isLeader(), false);
  await timers.advance(20_000);
  assert.ok(log.includes("b leads"), log.join(", "));
  await a.stop();
  await b.stop();
});

test("stop releases the lease so a standby takes over at its next retry, not after 15 s", async () => {
  const api = new FakeCustomObjects();
  const timers = new FakeTimers();
  const log: string[] = [];
  const a = candidate(api, timers, "a", log);
  a.start();
  await timers.advance(100);
  const b = candidate(api, timers, "b", log);
  b.start();
  await timers.advance(1_000);
  await a.stop();
  assert.deepEqual(log, ["a leads", "a stopped"]);
  await timers.advance(3_000);
  assert.deepEqual(log, ["a leads", "a stopped", "b leads"]);
  await b.stop();
});
