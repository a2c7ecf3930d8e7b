// The daemon's shell with a ClusterServingSchedule: it stops what it governs at its boundary, gives
// way to a namespace's own ServingSchedule (reported once, in Events and its status), and follows
// a Namespace's labels as they change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STOP } from "../../../src/api/annotations.ts";
import { CLUSTER_SCOPE } from "../../../src/sources/kube/servingSchedule.ts";
import { harness, schedule, service } from "./harness.ts";

const NIGHTS = { namespaceSelector: { matchLabels: { env: "dev" } }, uptime: [{ days: "*", from: "08:00", to: "10:30" }] };

function setup() {
  const labels = new Map<string, Record<string, string>>([["ml", { env: "dev" }]]);
  const h = harness({
    services: [service("a"), service("b", {}, "1", {}, undefined, { keep: "yes" })],
    schedules: [
      schedule("nights", NIGHTS, { namespace: CLUSTER_SCOPE }),
      // no uptime: always Running; it selects only b
      schedule("keep", { selector: { matchLabels: { keep: "yes" } } }, { creationTimestamp: "2026-11-01T00:00:00Z" }),
    ],
    overrides: { namespaceLabels: (ns) => labels.get(ns) },
  });
  return { ...h, labels };
}

test("a ClusterServingSchedule stops what it governs at its boundary; the namespace's own schedule overrides it for b", async () => {
  const h = setup();
  h.reconciler.start();
  await h.clock.advance(31 * 60_000);
  assert.deepEqual(
    h.patches.filter((p) => p.annotations[STOP] === "true").map((p) => p.name),
    ["a"],
  );
  const overridden = h.events.filter((e) => e.reason === "ScheduleOverridden");
  assert.deepEqual(
    overridden.map((e) => [e.ref.kind, e.ref.namespace, e.ref.name]),
    [
      ["InferenceService", "ml", "b"],
      ["ClusterServingSchedule", "", "nights"],
    ],
    "once each, not on every reconcile",
  );
  assert.match(overridden[0]?.message ?? "", /ServingSchedule ml\/keep governs .* overrides ClusterServingSchedule nights/);
  const stopped = h.events.find((e) => e.reason === "Stopped" && e.ref.kind === "ClusterServingSchedule");
  // one Event on the schedule for its transition, naming the service with its namespace; none on the service
  assert.equal(stopped?.message, "stopped 1 service (1 GPU) at 10:30 UTC, outside all uptime windows: ml/a");
  assert.equal(h.events.filter((e) => e.reason === "Stopped" && e.ref.kind === "InferenceService").length, 0);
  const status = h.schedules.get("/nights")?.status as { services: { name: string }[]; overridden: number };
  assert.deepEqual(
    status.services.map((s) => s.name),
    ["ml/a"],
    "a cluster schedule's services are named with their namespace",
  );
  assert.equal(status.overridden, 1);
});

test("a Namespace that loses the label is no longer reached; without the namespaceLabels port no cluster schedule is", async () => {
  const h = setup();
  h.labels.set("ml", { env: "prod" });
  h.reconciler.start();
  h.reconciler.onNamespaceChanged("ml");
  await h.clock.advance(31 * 60_000);
  assert.deepEqual(h.patches, []);
  assert.equal(h.events.filter((e) => e.reason === "ScheduleOverridden").length, 0);

  const namespacedInstall = harness({
    services: [service("a")],
    schedules: [schedule("nights", NIGHTS, { namespace: CLUSTER_SCOPE })],
  });
  namespacedInstall.reconciler.start();
  await namespacedInstall.clock.advance(31 * 60_000);
  assert.deepEqual(namespacedInstall.patches, []);
});
