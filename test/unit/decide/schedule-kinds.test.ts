// spec.kinds: which kinds of service a schedule governs (both by default), how a schedule that
// names one kind leaves the other to the next schedule, what the CRD-side schema refuses, and the
// status entries of the two kinds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileEntry, governingOf } from "../../../src/decide/schedules.ts";
import { buildStatus, type ServiceReport } from "../../../src/decide/status.ts";
import type { Decision } from "../../../src/decide/decide.ts";
import { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";
import { parseClusterScheduleObject, parseScheduleObject } from "../../../src/sources/kube/servingSchedule.ts";

const UPTIME = [{ days: "Mon-Fri", from: "08:00", to: "18:00" }];
const own = (name: string, spec: Record<string, unknown>, created = "2026-01-01T00:00:00Z") =>
  compileEntry(
    parseScheduleObject({ metadata: { namespace: "team", name, creationTimestamp: created }, spec: { uptime: UPTIME, ...spec } }),
  );
const wide = (name: string, spec: Record<string, unknown>) =>
  compileEntry(
    parseClusterScheduleObject({
      metadata: { name, creationTimestamp: "2020-01-01T00:00:00Z" },
      spec: { uptime: UPTIME, namespaceSelector: {}, ...spec },
    }),
  );
const isvc = { kind: "InferenceService", metadata: { namespace: "team", labels: {} } };
const llm = { kind: "LLMInferenceService", metadata: { namespace: "team", labels: {} } };

test("kinds defaults to both: one schedule governs the InferenceServices and the LLMInferenceServices of its namespace", () => {
  const s = own("office", {});
  assert.ok(s.ok);
  assert.deepEqual(s.spec.kinds, ["InferenceService", "LLMInferenceService"]);
  assert.equal(governingOf([s], isvc).governing?.key, "team/office");
  assert.equal(governingOf([s], llm).governing?.key, "team/office");
  assert.equal(governingOf([s], { metadata: { namespace: "team" } }).governing?.key, "team/office", "no kind: an InferenceService");
});

test("a schedule for one kind does not select the other, which the next schedule (a cluster one too) may govern", () => {
  const llmOnly = own("llm-nights", { kinds: ["LLMInferenceService"] }, "2025-01-01T00:00:00Z");
  const isvcOnly = own("isvc-hours", { kinds: ["InferenceService"] }, "2026-01-01T00:00:00Z");
  assert.deepEqual(
    [governingOf([llmOnly, isvcOnly], llm).governing?.key, governingOf([llmOnly, isvcOnly], isvc).governing?.key],
    ["team/llm-nights", "team/isvc-hours"],
  );
  assert.deepEqual(governingOf([llmOnly, isvcOnly], llm).overruled, [], "no conflict: the other one does not select it");
  const cluster = wide("nights", {});
  const r = governingOf([isvcOnly, cluster], llm, {});
  assert.equal(r.governing?.key, "/nights", "the namespace's schedule overrides per service, and only for the kinds it names");
  assert.deepEqual(r.overridden, []);
  assert.equal(governingOf([isvcOnly, cluster], isvc, {}).overridden[0]?.key, "/nights");
  const clusterLlm = wide("llm", { kinds: ["LLMInferenceService"] });
  assert.equal(governingOf([clusterLlm], isvc, {}).governing, undefined);
});

test("kinds refuses an empty list, a kind named twice, an unknown kind and a wrong type, with the field named", () => {
  for (const [kinds, want] of [
    [[], /kinds/],
    [["InferenceService", "InferenceService"], /must not name a kind twice/],
    [["InferenceGraph"], /kinds\.0|kinds/],
    ["InferenceService", /kinds/],
    [["llminferenceservice"], /kinds/],
    [Array.from({ length: 10_000 }, () => "InferenceService"), /kinds/],
  ] as const) {
    const r = ServingScheduleSpec.safeParse({ kinds });
    assert.equal(r.success, false, JSON.stringify(kinds).slice(0, 60));
    assert.match(JSON.stringify(r.error?.issues.map((i) => [i.path.join("."), i.message])), want);
  }
});

test("status entries: kind LLMInferenceService on its entry only, one of each kind may share a name, release times kept per kind", () => {
  const decision: Decision = { action: "none", observed: "Stopped", desired: "Stopped", reason: "Schedule", message: "", confirmed: true };
  const report = (kind: ServiceReport["kind"], releasedAt: number): ServiceReport => ({
    name: "llama",
    kind,
    decision,
    gpus: kind === "LLMInferenceService" ? 16 : 1,
    since: 0,
    nextTransition: undefined,
    notConfirmed: kind === "LLMInferenceService",
    released: true,
    releasedAt,
  });
  const input = {
    generation: 1,
    valid: { ok: true as const },
    metrics: undefined,
    next: undefined,
    gpuHoursReclaimed: 0,
    now: 10_000,
  };
  const first = buildStatus({
    ...input,
    services: [report("LLMInferenceService", 2_000), report("InferenceService", 1_000)],
    previous: undefined,
  });
  assert.deepEqual(
    first.services?.map((s) => [s.name, s.kind, s.gpus, s.gpusReleasedAt]),
    [
      ["llama", undefined, 1, new Date(1_000).toISOString()],
      ["llama", "LLMInferenceService", 16, new Date(2_000).toISOString()],
    ],
  );
  assert.equal(first.gpusReclaimed, 17);
  assert.match(first.conditions?.find((c) => c.type === "Ready")?.message ?? "", /llama \(LLMInferenceService\)/);
  // a restarted daemon releases "now"; each entry keeps its own earlier instant, not the other kind's
  const again = buildStatus({
    ...input,
    services: [report("InferenceService", 9_000), report("LLMInferenceService", 9_000)],
    previous: first,
  });
  assert.deepEqual(
    again.services?.map((s) => s.gpusReleasedAt),
    [new Date(1_000).toISOString(), new Date(2_000).toISOString()],
  );
});
