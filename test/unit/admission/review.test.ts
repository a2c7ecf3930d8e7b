// The admission decision: the same words as `validate`, allowed with validate's warnings, and an
// UPDATE that leaves an already-invalid spec alone is never blocked. Bodies that are not reviews
// are refused as such, not answered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadReview, reviewServingSchedule } from "../../../src/admission/review.ts";
import { validateServingSchedule } from "../../../src/api/validate.ts";

const NOW = Date.UTC(2026, 10, 30, 12);

function schedule(spec: Record<string, unknown>, kind = "ServingSchedule") {
  return {
    apiVersion: "reclaimer.dev/v1alpha1",
    kind,
    metadata: kind === "ServingSchedule" ? { name: "s", namespace: "ns" } : { name: "s" },
    spec,
  };
}

function review(operation: string, object: unknown, oldObject: unknown = null, kind = "ServingSchedule") {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "7f0b2e7a-1d7a-4d1c-9c0e-5f6f4c1e2a11",
      operation,
      kind: { group: "reclaimer.dev", version: "v1alpha1", kind },
      object,
      oldObject,
    },
  };
}

const OFFICE = { timeZone: "Europe/Berlin", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] };
const BAD_ZONE = { ...OFFICE, timeZone: "Mars/Olympus_Mons" };
const HOUR_25 = { ...OFFICE, uptime: [{ days: "Mon-Fri", from: "08:00", to: "25:00" }] };
const NEVER = { ...OFFICE, uptime: [{ cron: { start: "0 8 30 2 *", stop: "0 20 30 2 *" } }] };

function expectedLines(spec: Record<string, unknown>): string {
  const r = validateServingSchedule(schedule(spec), NOW);
  assert.equal(r.ok, false);
  return r.ok ? "" : r.problems.map((p) => `${p.path || "-"}: ${p.message}`).join("\n");
}

test("the three classic mistakes are denied with validate's own lines, and the uid is echoed", () => {
  for (const spec of [BAD_ZONE, HOUR_25, NEVER]) {
    const out = reviewServingSchedule(review("CREATE", schedule(spec)), NOW);
    assert.equal(out.apiVersion, "admission.k8s.io/v1");
    assert.equal(out.kind, "AdmissionReview");
    assert.equal(out.response.uid, "7f0b2e7a-1d7a-4d1c-9c0e-5f6f4c1e2a11");
    assert.equal(out.response.allowed, false);
    assert.equal(out.response.status?.code, 422);
    assert.equal(out.response.status?.message, expectedLines(spec));
  }
  const zone = reviewServingSchedule(review("CREATE", schedule(BAD_ZONE)), NOW);
  assert.match(zone.response.status?.message ?? "", /^spec\.timeZone: must be an IANA time zone/);
});

test("a valid schedule is allowed without warnings; a suspicious one is allowed with validate's warnings", () => {
  const ok = reviewServingSchedule(review("CREATE", schedule(OFFICE)), NOW);
  assert.deepEqual(ok.response, { uid: "7f0b2e7a-1d7a-4d1c-9c0e-5f6f4c1e2a11", allowed: true });
  const flappy = { ...OFFICE, uptime: [{ cron: { start: "0 * * * *", stop: "5 * * * *" } }] };
  const warned = reviewServingSchedule(review("CREATE", schedule(flappy)), NOW);
  assert.equal(warned.response.allowed, true);
  assert.ok((warned.response.warnings?.length ?? 0) > 0);
  for (const w of warned.response.warnings ?? []) {
    assert.ok(w.length <= 1_024, w);
    assert.doesNotMatch(w, /warning: /, "kubectl already prints 'Warning:'");
  }
  assert.match(warned.response.warnings?.[0] ?? "", /^spec\.uptime\[0\]\.cron: changes state/);
});

test("UPDATE: a changed invalid spec is denied; an unchanged one (labels, finalizers) is allowed with a warning", () => {
  const invalid = schedule(HOUR_25);
  const changed = reviewServingSchedule(review("UPDATE", invalid, schedule(OFFICE)), NOW);
  assert.equal(changed.response.allowed, false);
  const relabelled = { ...invalid, metadata: { ...invalid.metadata, labels: { team: "nlp" } } };
  // Same spec with keys in another order: still unchanged.
  const reordered = schedule({ uptime: HOUR_25.uptime, timeZone: HOUR_25.timeZone });
  const same = reviewServingSchedule(review("UPDATE", relabelled, reordered), NOW);
  assert.equal(same.response.allowed, true);
  assert.match(same.response.warnings?.[0] ?? "", /invalid/);
});

test("ClusterServingSchedules are judged by their own schema; other kinds and operations pass untouched", () => {
  const noSelector = reviewServingSchedule(
    review("CREATE", schedule(OFFICE, "ClusterServingSchedule"), null, "ClusterServingSchedule"),
    NOW,
  );
  assert.equal(noSelector.response.allowed, false);
  assert.match(noSelector.response.status?.message ?? "", /namespaceSelector/);
  const other = review("CREATE", { kind: "ConfigMap" });
  other.request.kind = { group: "", version: "v1", kind: "ConfigMap" };
  assert.equal(reviewServingSchedule(other, NOW).response.allowed, true);
  assert.equal(reviewServingSchedule(review("DELETE", null, schedule(HOUR_25)), NOW).response.allowed, true);
  assert.equal(reviewServingSchedule(review("CONNECT", schedule(HOUR_25)), NOW).response.allowed, true);
});

test("what is not an AdmissionReview is refused as such, and the uid is bounded", () => {
  const bad: unknown[] = [
    null,
    42,
    "AdmissionReview",
    [],
    {},
    { apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "u" } },
    { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" },
    { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: 5 } },
    { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "" } },
    { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "x".repeat(129) } },
  ];
  for (const body of bad) assert.throws(() => reviewServingSchedule(body, NOW), BadReview, JSON.stringify(body)?.slice(0, 60));
});

test("hostile objects: wrong types, huge strings and many problems get a bounded denial, never a throw", () => {
  const objects: unknown[] = [
    "a string",
    [],
    { spec: null },
    schedule({ timeZone: 7, uptime: "Mon-Fri" }),
    schedule({ timeZone: `\u001b[31m${"Z".repeat(100_000)}`, uptime: [] }),
    schedule({ uptime: Array.from({ length: 2_000 }, () => ({ days: "Mon-Fri", from: "25:00", to: "26:00" })) }),
  ];
  for (const object of objects) {
    const out = reviewServingSchedule(review("CREATE", object), NOW);
    assert.equal(out.response.allowed, false);
    assert.ok((out.response.status?.message.length ?? 0) <= 4_096);
    assert.ok((out.response.status?.message.length ?? 0) > 0);
  }
});
