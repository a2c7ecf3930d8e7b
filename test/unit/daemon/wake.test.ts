// Wake on request in the daemon's shell, with in-memory ports and a fake clock: the wake route is
// written before the stop patch, kept while the service starts and removed once it is Ready; a wake
// request starts a daemon-stopped service once (reason Request); a person's stop is refused; a late
// start names the scheduler's reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STATE, STOP, writeState } from "../../../src/api/annotations.ts";
import type { WakeRoutesPort } from "../../../src/daemon/ports.ts";
import type { Service } from "../../../src/sources/kube/service.ts";
import { harness, metric, service, START } from "./harness.ts";

const WAKE_SPEC = { idle: { after: "30m" }, wake: { onRequest: true, timeout: "2m", maxHeldRequests: 7 } };
// a Stopped period all day long: the schedule stops what runs
const NIGHT = { ...WAKE_SPEC, uptime: [{ days: "Sun", from: "08:00", to: "09:00" }], timeZone: "UTC" };

function routes(order: string[]) {
  const present = new Set<string>();
  let listed = false;
  const port: WakeRoutesPort & { present: Set<string>; list(): void } = {
    present,
    list: () => {
      listed = true;
    },
    has: (k) => (listed ? present.has(k) : undefined),
    ensure: async (s: Service) => {
      order.push(`ensure ${s.metadata.name}`);
      present.add(`${s.metadata.namespace}/${s.metadata.name}`);
      listed = true;
    },
    remove: async (ns, name) => {
      order.push(`remove ${name}`);
      present.delete(`${ns}/${name}`);
    },
  };
  return port;
}

function stoppedByDaemon(name: string, reason = "Schedule", at = new Date(START - 3_600_000).toISOString()): Service {
  return service(
    name,
    { [STOP]: "true", [STATE]: writeState({ v: 1, action: "stop", reason, schedule: "ml/office", at, generation: 1 }) },
    "1",
    {},
    [
      { type: "Ready", status: "False", lastTransitionTime: at },
      { type: "Stopped", status: "True", lastTransitionTime: at },
    ],
  );
}

test("the wake route is created before the stop patch, for wake-enabled schedules only", async () => {
  const order: string[] = [];
  const r = routes(order);
  const h = harness({ services: [service("llama")], schedule: NIGHT, overrides: { wakeRoutes: r } });
  const patch = h.ports.patchAnnotations;
  h.ports.patchAnnotations = (target, a, rv) => {
    order.push(`patch ${target.name} ${a[STOP]}`);
    return patch(target, a, rv);
  };
  h.reconciler.start();
  await h.clock.advance(10);
  // (the idle tick decides again; the in-memory service did not change, so it patches again: the route is written once)
  assert.deepEqual(order.slice(0, 2), ["ensure llama", "patch llama true"]);
  assert.equal(order.filter((o) => o.startsWith("ensure")).length, 1);

  const plain = harness({ services: [service("plain")], schedule: { uptime: NIGHT.uptime }, overrides: { wakeRoutes: routes(order) } });
  order.length = 0;
  plain.reconciler.start();
  await plain.clock.advance(10);
  assert.deepEqual(order, [], "no wake route for a schedule without wake.onRequest");
  assert.equal(plain.patches.length, 1);
});

test("a failed wake route write holds the stop back (retried), so no service is stopped unreachable", async () => {
  const r = routes([]);
  r.ensure = async () => {
    throw new Error("ingresses.networking.k8s.io is forbidden");
  };
  const h = harness({ services: [service("llama")], schedule: NIGHT, overrides: { wakeRoutes: r } });
  h.reconciler.start();
  await h.clock.advance(10);
  assert.equal(h.patches.length, 0);
  assert.ok(h.events.some((e) => e.type === "Warning" && e.message.includes("forbidden")));
});

test("a wake request starts a daemon-stopped service once, reason Request, and the answer says Starting", async () => {
  const r = routes([]);
  r.list();
  const h = harness({ services: [stoppedByDaemon("llama")], schedule: NIGHT, overrides: { wakeRoutes: r } });
  h.reconciler.start();
  await h.clock.advance(10);
  assert.deepEqual(r.present, new Set(["ml/llama"]), "re-created while daemon-stopped (it was missing)");
  assert.equal(h.patches.length, 0);

  const answers = [h.reconciler.wake("ml/llama"), h.reconciler.wake("ml/llama"), h.reconciler.wake("ml/llama")];
  for (const a of answers) assert.equal(a?.state, "Starting");
  assert.equal(answers[0]?.policy?.maxHeldRequests, 7);
  await h.clock.advance(10);
  // the route was just re-created: a start in its creation second would tie with KServe's
  // recreated HTTPRoutes, and Gateway API gives a tie to the name sorting first ("llama")
  assert.equal(h.patches.length, 0, "no start while the wake route is younger than 2 s");
  await h.clock.advance(2_000);
  assert.equal(h.patches.length, 1, "many requests, one start");
  assert.equal(h.patches[0]?.annotations[STOP], "false");
  const record = JSON.parse(h.patches[0]?.annotations[STATE] ?? "{}") as { action: string; reason: string };
  assert.deepEqual([record.action, record.reason], ["start", "Request"]);
  assert.ok(h.events.some((e) => e.reason === "WokenByRequest" && e.message.includes("woken by a request")));
  assert.deepEqual(await metric(h.metrics, "kserve_reclaimer_wakes_total"), ['kserve_reclaimer_wakes_total{namespace="ml"} 1']);
  assert.deepEqual(r.present, new Set(["ml/llama"]), "the route stays while the service starts");

  // KServe starts it: not Ready yet -> Starting, route kept; Ready -> Ready, route removed
  const record2 = h.patches[0]?.annotations[STATE] ?? "";
  h.services.set(
    "ml/llama",
    service("llama", { [STOP]: "false", [STATE]: record2 }, "1", {}, [
      { type: "Ready", status: "False", lastTransitionTime: new Date(START).toISOString() },
    ]),
  );
  h.reconciler.onServiceChanged(h.services.get("ml/llama") as Service);
  await h.clock.advance(10);
  assert.equal(h.reconciler.wake("ml/llama")?.state, "Starting");
  assert.deepEqual(r.present, new Set(["ml/llama"]));
  h.services.set(
    "ml/llama",
    service("llama", { [STOP]: "false", [STATE]: record2 }, "1", {}, [
      { type: "Ready", status: "True", lastTransitionTime: new Date(START + 5).toISOString() },
    ]),
  );
  h.reconciler.onServiceChanged(h.services.get("ml/llama") as Service);
  await h.clock.advance(10);
  assert.equal(h.reconciler.wake("ml/llama")?.state, "Ready");
  assert.deepEqual(r.present, new Set(), "removed after Ready");
  assert.equal(h.patches.length, 1);
  // the status entry says why it runs: reason Request
  await h.reconciler.flushStatus();
  const entry = h.statuses.at(-1)?.services?.find((s) => s.name === "llama");
  assert.equal(entry?.reason, "Request");
});

test("a person's stop is Refused and has no wake route; neither has a service of a schedule without wake", async () => {
  const r = routes([]);
  r.list();
  r.present.add("ml/manual");
  const manual = service("manual", { [STOP]: "true" }, "1", {}, [{ type: "Stopped", status: "True" }]);
  const h = harness({ services: [manual], schedule: NIGHT, overrides: { wakeRoutes: r } });
  h.reconciler.start();
  await h.clock.advance(10);
  assert.deepEqual(r.present, new Set(), "a leftover route of a person's stop is removed");
  const a = h.reconciler.wake("ml/manual");
  assert.equal(a?.state, "Refused");
  assert.match(a?.message ?? "", /stopped by a person/);
  await h.clock.advance(10);
  assert.equal(h.patches.length, 0);
  assert.equal(h.reconciler.wake("ml/nobody"), undefined);

  const plain = harness({ services: [stoppedByDaemon("plain")], schedule: { uptime: NIGHT.uptime, idle: { after: "30m" } } });
  plain.reconciler.start();
  await plain.clock.advance(10);
  assert.equal(plain.reconciler.wake("ml/plain")?.state, "Refused");
  await plain.clock.advance(10);
  assert.equal(plain.patches.length, 0);
});

test("suspend and dry runs: the wake is Refused and no route is written", async () => {
  for (const [schedule, options] of [
    [{ ...NIGHT, suspend: true }, {}],
    [NIGHT, { dryRun: true }],
  ] as const) {
    const r = routes([]);
    r.list();
    const h = harness({ services: [stoppedByDaemon("llama")], schedule, overrides: { wakeRoutes: r }, options });
    h.reconciler.start();
    await h.clock.advance(10);
    const a = h.reconciler.wake("ml/llama");
    assert.equal(a?.state, "Refused");
    await h.clock.advance(10);
    assert.equal(h.patches.length, 0);
    assert.deepEqual(r.present, new Set());
  }
});

test("a start not confirmed in time: NotConfirmed, then a Warning with the scheduler's message", async () => {
  const asked: string[] = [];
  const h = harness({
    services: [stoppedByDaemon("llama")],
    schedule: NIGHT,
    overrides: {
      unschedulable: async ({ namespace, name }) => {
        asked.push(`${namespace}/${name}`);
        return "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.";
      },
    },
  });
  h.reconciler.start();
  await h.clock.advance(10);
  h.reconciler.wake("ml/llama");
  await h.clock.advance(10);
  assert.equal(h.patches.length, 1);
  await h.clock.advance(900_000);
  assert.deepEqual(asked, ["ml/llama"]);
  const warning = h.events.find((e) => e.reason === "Unschedulable");
  assert.equal(warning?.type, "Warning");
  assert.match(warning?.message ?? "", /0\/4 nodes are available: 4 Insufficient nvidia.com\/gpu/);
});
