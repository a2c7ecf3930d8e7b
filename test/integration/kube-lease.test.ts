// Leader election on a real coordination.k8s.io/v1 Lease: of two contenders exactly one leads;
// release on shutdown hands over within a retry period; a leader that dies without releasing is
// replaced after the lease expires.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LeaderElector } from "../../src/sources/kube/lease.ts";
import { createNamespace, startKubePlane, type KubePlane } from "./kube-plane.ts";
import { eventually } from "../support/kube.ts";

let plane: KubePlane;
const ns = "lease";

type Lease = { spec?: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string } };

async function readLease(name: string): Promise<Lease> {
  return (await plane.objects.read({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: ns } })) as Lease;
}

function contender(name: string, identity: string, log: string[], fast = false, releaseOnStop = true) {
  const elector = new LeaderElector({
    kubeConfig: plane.kubeConfig(),
    namespace: ns,
    name,
    identity,
    releaseOnStop,
    ...(fast ? { leaseDurationSeconds: 3, renewDeadlineMs: 2_000, retryPeriodMs: 500 } : {}),
    onStartedLeading: () => void log.push(`${identity} started`),
    onStoppedLeading: () => void log.push(`${identity} stopped`),
  });
  return elector;
}

describe("leader election against kube-apiserver", { timeout: 120_000 }, () => {
  before(async () => {
    plane = await startKubePlane();
    await createNamespace(plane.objects, ns);
  });
  after(async () => {
    await plane?.stop();
  });

  test("two contenders: one leader; release hands over within a retry period", async () => {
    const log: string[] = [];
    const a = contender("reclaimer", "replica-a", log);
    const b = contender("reclaimer", "replica-b", log);
    a.start();
    b.start();
    try {
      await eventually("a leader", async () => a.isLeader() || b.isLeader());
      await new Promise((r) => setTimeout(r, 3_000)); // a few renewals: still exactly one
      assert.equal(Number(a.isLeader()) + Number(b.isLeader()), 1, "exactly one leader");
      const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
      const lease = await readLease("reclaimer");
      assert.equal(lease.spec?.holderIdentity, leader.identity);
      assert.equal(standby.leader(), leader.identity, "the standby knows the leader");
      assert.match(lease.spec?.renewTime ?? "", /\.\d{6}Z$/, "MicroTime format");

      const begin = Date.now();
      await leader.stop();
      assert.equal(leader.isLeader(), false);
      assert.deepEqual(
        log.filter((l) => l.startsWith(leader.identity)),
        [`${leader.identity} started`, `${leader.identity} stopped`],
      );
      await eventually("failover", async () => standby.isLeader(), { intervalMs: 50 });
      const failoverMs = Date.now() - begin;
      process.stderr.write(`[kube-lease] failover after release: ${failoverMs} ms\n`);
      assert.ok(failoverMs < 4_000, `failover took ${failoverMs} ms`);
      const after = await readLease("reclaimer");
      assert.equal(after.spec?.holderIdentity, standby.identity);
      assert.ok((after.spec?.leaseTransitions ?? 0) >= 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test("a leader that dies without releasing is replaced after the lease expires", async () => {
    const log: string[] = [];
    const a = contender("crash", "replica-a", log, true, false);
    a.start();
    await eventually("a leads", async () => a.isLeader());
    const b = contender("crash", "replica-b", log, true);
    b.start();
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(b.isLeader(), false, "b waits while a renews");
      // "Crash": a stops renewing and does not release (releaseOnStop: false).
      await a.stop();
      assert.equal((await readLease("crash")).spec?.holderIdentity, "replica-a", "not released");
      const begin = Date.now();
      await eventually("b takes over", async () => b.isLeader(), { timeoutMs: 15_000, intervalMs: 100 });
      const waited = Date.now() - begin;
      process.stderr.write(`[kube-lease] takeover after a crash: ${waited} ms (lease 3 s)\n`);
      assert.ok(waited >= 2_000, `took over after ${waited} ms, before the lease expired`);
    } finally {
      await b.stop();
    }
  });
});
