// The pure half of status, wake and sleep: targets, the local decision, the patches wake and sleep
// write (checked by feeding them back through decide(), as the daemon would), and the renderings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EXCLUDE, KEEP_RUNNING_UNTIL, STATE, STOP } from "../../../src/api/annotations.ts";
import { parseInferenceService, type InferenceService } from "../../../src/sources/kube/inferenceService.ts";
import type { ScheduleObject } from "../../../src/sources/kube/servingSchedule.ts";
import { compileEntry, governingOf } from "../../../src/decide/schedules.ts";
import { handsOff } from "../../../src/cli/annotate.ts";
import { parseFor, parseTarget } from "../../../src/cli/arguments.ts";
import { evaluate, nextRunning, upcoming } from "../../../src/cli/decision.ts";
import { sleepMessage, sleepPatch } from "../../../src/cli/sleep.ts";
import { overview, serviceDetailJson } from "../../../src/cli/statusJson.ts";
import { columns, renderOverview, renderServiceDetail } from "../../../src/cli/statusText.ts";
import { relative, rfc3339, span } from "../../../src/cli/times.ts";
import { wakeMessage, wakePatch } from "../../../src/cli/wake.ts";
import { describeFailure } from "../../../src/cli/cluster.ts";
import { UsageError } from "../../../src/cli/io.ts";

const T = (iso: string) => Date.parse(iso);
// Office hours Mon-Fri 08:00-20:00 UTC. 2026-12-01 is a Tuesday.
const TUE_1000 = T("2026-12-01T10:00:00Z");
const TUE_2000 = T("2026-12-01T20:00:00Z");
const TUE_2200 = T("2026-12-01T22:00:00Z");
const WED_0800 = T("2026-12-02T08:00:00Z");

function schedule(name: string, spec: Record<string, unknown>, created = "2026-01-01T00:00:00Z", status?: unknown): ScheduleObject {
  return { metadata: { name, namespace: "ml", creationTimestamp: created }, spec, ...(status === undefined ? {} : { status }) };
}
const office = (over: Record<string, unknown> = {}) =>
  schedule("office", {
    timeZone: "UTC",
    selector: { matchLabels: { team: "ml" } },
    uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
    ...over,
  });

function isvc(
  annotations: Record<string, string> = {},
  opts: { labels?: Record<string, string>; name?: string; stopped?: boolean } = {},
): InferenceService {
  const stopped = opts.stopped ?? (annotations[STOP] ?? "").toLowerCase() === "true";
  return parseInferenceService({
    metadata: {
      name: opts.name ?? "llama",
      namespace: "ml",
      labels: opts.labels ?? { team: "ml" },
      annotations,
      creationTimestamp: "2026-11-01T00:00:00Z",
    },
    spec: { predictor: { minReplicas: 1, containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": "2" } } }] } },
    status: {
      conditions: stopped
        ? [
            { type: "Ready", status: "False", reason: "Stopped", lastTransitionTime: "2026-12-01T07:00:00Z" },
            { type: "Stopped", status: "True", lastTransitionTime: "2026-12-01T07:00:00Z" },
          ]
        : [
            { type: "Ready", status: "True", lastTransitionTime: "2026-12-01T08:01:00Z" },
            { type: "Stopped", status: "False", lastTransitionTime: "2026-12-01T08:01:00Z" },
          ],
    },
  });
}

/** The InferenceService after a merge patch of its annotations (null removes). */
function patched(obj: InferenceService, patch: Record<string, string | null>, stopped: boolean): InferenceService {
  const a: Record<string, string> = { ...(obj.metadata.annotations ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete a[k];
    else a[k] = v;
  }
  return isvc(a, { stopped });
}

test("parseTarget: ns/name, name in the default namespace, bad forms are usage errors", () => {
  assert.deepEqual(parseTarget("ml/llama", "default", "wake"), { namespace: "ml", name: "llama" });
  assert.deepEqual(parseTarget("llama", "team", "wake"), { namespace: "team", name: "llama" });
  for (const bad of ["a/b/c", "/x", "x/", "Ml/llama", "", undefined])
    assert.throws(() => parseTarget(bad, "d", "wake"), UsageError, String(bad));
});

test("parseFor: Go durations, positive", () => {
  assert.equal(parseFor("2h"), 7_200_000);
  assert.equal(parseFor("1h30m"), 5_400_000);
  assert.equal(parseFor("90s"), 90_000);
  for (const bad of ["0h", "", "2 hours", "-1h", "1d"]) assert.throws(() => parseFor(bad), UsageError, bad);
});

test("compileEntry: valid schedules compile; an invalid one carries the validator's words", () => {
  const ok = compileEntry(office());
  assert.ok(ok.ok);
  const bad = compileEntry(office({ timeZone: "Mars/Olympus" }));
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : "", /timeZone/);
});

test("governingOf: the oldest matching valid schedule governs; the others are overruled; invalid ones never govern", () => {
  const entries = [
    compileEntry(
      schedule("newer", { timeZone: "UTC", selector: {}, uptime: [{ days: "*", from: "00:00", to: "24:00" }] }, "2026-06-01T00:00:00Z"),
    ),
    compileEntry(office()),
    compileEntry(schedule("broken", { timeZone: "Nowhere/Land", selector: {}, uptime: [] }, "2025-01-01T00:00:00Z")),
  ];
  const { governing, overruled } = governingOf(entries, isvc());
  assert.equal(governing?.key, "ml/office");
  assert.deepEqual(
    overruled.map((o) => o.key),
    ["ml/newer"],
  );
  assert.equal(governingOf(entries, isvc({}, { labels: { team: "other" } })).governing?.key, "ml/newer");
});

test("evaluate: what the daemon decides now (outside the window a running service is stopped)", () => {
  const e = evaluate(isvc(), [compileEntry(office())], TUE_2200);
  assert.equal(e.governing?.key, "ml/office");
  assert.equal(e.decision.action, "stop");
  assert.equal(e.facts.gpus, 2);
  assert.deepEqual(
    e.upcoming.map((t) => [rfc3339(t.at), t.state]),
    [
      ["2026-12-02T08:00:00Z", "Running"],
      ["2026-12-02T20:00:00Z", "Stopped"],
      ["2026-12-03T08:00:00Z", "Running"],
    ],
  );
  const inside = evaluate(isvc(), [compileEntry(office())], TUE_1000);
  assert.equal(inside.decision.action, "none");
  assert.equal(inside.decision.desired, "Running");
});

test("sleep: the patch is taken by decide() as the daemon's own stop: it stays stopped, then starts at the next Running transition", () => {
  const entries = [compileEntry(office())];
  const e = evaluate(isvc(), entries, TUE_1000);
  const patch = sleepPatch(e, TUE_1000);
  assert.equal(patch[STOP], "true");
  assert.equal(patch[KEEP_RUNNING_UNTIL], null);
  assert.deepEqual(JSON.parse(patch[STATE] as string), {
    v: 1,
    action: "stop",
    reason: "Sleep",
    schedule: "ml/office",
    at: "2026-12-01T10:00:00.000Z",
  });
  const after = patched(isvc({ [KEEP_RUNNING_UNTIL]: "2026-12-01T12:00:00Z" }), patch, true);
  assert.equal(after.metadata.annotations?.[KEEP_RUNNING_UNTIL], undefined);
  // a minute later, and at the schedule's own stop at 20:00: nothing to do, not a person's stop
  for (const at of [TUE_1000 + 60_000, TUE_2000 + 1000, TUE_2200]) {
    const d = evaluate(after, entries, at).decision;
    assert.equal(d.action, "none", rfc3339(at));
    assert.equal(d.desired, "Stopped");
    assert.notEqual(d.reason, "ManualStop");
  }
  // the next Running transition starts it
  const d = evaluate(after, entries, WED_0800 + 500).decision;
  assert.equal(d.action, "start");
  const first = entries[0];
  assert.ok(first?.ok);
  assert.equal(nextRunning(first.compiled, TUE_1000)?.at, WED_0800);
  assert.match(
    sleepMessage(e, TUE_1000).join("\n"),
    /starts it again at its next Running transition: 2026-12-02T08:00:00Z \(Wed 2026-12-02 08:00 \+00:00 UTC, in 22h\)/,
  );
});

test('sleep without a schedule: record with schedule ""; message says it stays stopped', () => {
  const e = evaluate(isvc({}, { labels: {} }), [compileEntry(office())], TUE_1000);
  assert.equal(e.governing, undefined);
  assert.equal(JSON.parse(sleepPatch(e, TUE_1000)[STATE] as string).schedule, "");
  assert.match(sleepMessage(e, TUE_1000).join("\n"), /stays stopped until someone runs `wake` or removes the annotation/);
});

test("wake: keep-running-until only; decide() then starts a stopped service and never stops it before then", () => {
  const entries = [compileEntry(office())];
  const sleeping = isvc({
    [STOP]: "true",
    [STATE]: JSON.stringify({ v: 1, action: "stop", reason: "Schedule", schedule: "ml/office", at: "2026-12-01T20:00:00Z" }),
  });
  const e = evaluate(sleeping, entries, TUE_2200);
  const patch = wakePatch(e, TUE_2200, 2 * 3_600_000);
  assert.deepEqual(patch, { [KEEP_RUNNING_UNTIL]: "2026-12-02T00:00:00Z" });
  const woken = patched(sleeping, patch, true);
  const d = evaluate(woken, entries, TUE_2200 + 1000).decision;
  assert.equal(d.action, "start");
  assert.equal(d.reason, "KeepRunningUntil");
  assert.match(
    wakeMessage(e, TUE_2200, 7_200_000).join("\n"),
    /set to 2026-12-02T00:00:00Z .*\n {2}it is stopped now: the daemon starts it/,
  );
  // a person's stop is overridden by wake too (rule 2 before rule 3)
  const manual = isvc({ [STOP]: "true" });
  assert.equal(evaluate(manual, entries, TUE_1000).decision.reason, "ManualStop");
  assert.equal(
    evaluate(patched(manual, wakePatch(evaluate(manual, entries, TUE_1000), TUE_1000, 3_600_000), true), entries, TUE_1000 + 1).decision
      .action,
    "start",
  );
});

test("wake without a schedule starts a stopped service directly; excluded and ModelMesh services are refused", () => {
  const unselected = evaluate(isvc({ [STOP]: "true" }, { labels: {} }), [], TUE_1000);
  assert.deepEqual(wakePatch(unselected, TUE_1000, 3_600_000), { [KEEP_RUNNING_UNTIL]: "2026-12-01T11:00:00Z", [STOP]: "false" });
  assert.match(wakeMessage(unselected, TUE_1000, 3_600_000).join("\n"), /started it directly/);
  assert.equal(handsOff(unselected), undefined);
  assert.match(handsOff(evaluate(isvc({ [EXCLUDE]: "true" }), [compileEntry(office())], TUE_1000)) ?? "", /leaves it alone/);
  assert.match(
    handsOff(evaluate(isvc({ "serving.kserve.io/deploymentMode": "ModelMesh" }), [compileEntry(office())], TUE_1000)) ?? "",
    /ModelMesh/,
  );
});

test("status ns/name: detail view and JSON", () => {
  const entries = [
    compileEntry(office({ idle: { after: "30m", threshold: 0 } })),
    compileEntry(
      schedule("late", { timeZone: "UTC", selector: {}, uptime: [{ days: "*", from: "00:00", to: "24:00" }] }, "2026-06-01T00:00:00Z"),
    ),
  ];
  const obj = isvc({
    [STOP]: "true",
    [STATE]: JSON.stringify({ v: 1, action: "stop", reason: "Idle", schedule: "ml/office", at: "2026-12-01T09:00:00Z" }),
    [KEEP_RUNNING_UNTIL]: "2026-12-01T09:30:00Z",
  });
  const e = evaluate(obj, entries, TUE_1000);
  const text = renderServiceDetail(e, obj, TUE_1000, "no --prometheus-url given");
  for (const want of [
    /^InferenceService ml\/llama$/m,
    /^Schedule: +ml\/office \(UTC\)$/m,
    /also selected by ml\/late \(ignored/,
    /serving\.kserve\.io\/stop +"true"/,
    /reclaimer\.dev\/state +stop \(Idle\) by ml\/office at 2026-12-01T09:00:00Z \(1h ago\)/,
    /keep-running-until +2026-12-01T09:30:00Z \(expired 30m ago\)/,
    /Stopped=True/,
    /^GPUs: +2$/m,
    /Daemon would now:\n {2}nothing: Stopped, reason Idle/,
    /idle rule not evaluated: no --prometheus-url given/,
    /Next transitions of ml\/office:\n {2}Tue 2026-12-01 20:00 \+00:00 {2}Stopped/,
  ])
    assert.match(text, want);
  const j = serviceDetailJson(e, obj, "no --prometheus-url given");
  assert.equal(j.schedule?.name, "ml/office");
  assert.deepEqual(j.schedule?.overruled, ["ml/late"]);
  assert.equal(j.annotations.state.kind, "ok");
  assert.equal(j.decision.action, "none");
  assert.equal(j.decision.reason, "Idle");
  assert.deepEqual(j.traffic, { kind: "notEvaluated", why: "no --prometheus-url given" });
  assert.equal(j.nextTransitions.length, 3);
  assert.doesNotThrow(() => JSON.stringify(j));
  // with a reading the idle rule is evaluated
  const running = isvc();
  const idle = evaluate(running, entries, TUE_1000 + 3_600_000, { traffic: { kind: "known", rps: 0 } });
  assert.equal(idle.decision.action, "stop");
  assert.equal(idle.decision.reason, "Idle");
});

test("status: overview from the daemon's status, live annotations, not-selected services; fallback without status", () => {
  const status = {
    conditions: [
      { type: "Ready", status: "True", reason: "Reconciled", message: "2 services", lastTransitionTime: "2026-12-01T08:00:00Z" },
    ],
    services: [
      {
        name: "llama",
        state: "Stopped",
        reason: "Idle",
        since: "2026-12-01T09:00:00Z",
        nextTransition: "2026-12-01T20:00:00Z",
        gpus: 2,
        confirmed: true,
        message: "idle",
      },
      { name: "gone", state: "Running", reason: "Schedule", gpus: 1, confirmed: false },
    ],
    running: 1,
    stopped: 1,
    gpusReclaimed: 2,
    gpuHoursReclaimed: 1.5,
  };
  const entries = [
    compileEntry(
      schedule(
        "office",
        { timeZone: "UTC", selector: { matchLabels: { team: "ml" } }, uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] },
        "2026-01-01T00:00:00Z",
        status,
      ),
    ),
    compileEntry(
      schedule("fresh", {
        timeZone: "UTC",
        selector: { matchLabels: { team: "cv" } },
        uptime: [{ days: "*", from: "08:00", to: "09:00" }],
      }),
    ),
  ];
  const services = [
    isvc({ [STOP]: "true", [STATE]: "{}" }),
    isvc({ [KEEP_RUNNING_UNTIL]: "2026-12-01T12:00:00Z" }, { name: "resnet", labels: { team: "cv" } }),
    isvc({ [STOP]: "true" }, { name: "orphan", labels: {} }),
  ];
  const o = overview(entries, services, TUE_1000);
  assert.deepEqual(
    o.schedules.map((s) => s.name),
    ["ml/fresh", "ml/office"],
  );
  const off = o.schedules[1]!;
  assert.equal(off.reported, true);
  assert.equal(off.nextTransition, "2026-12-01T20:00:00Z");
  assert.deepEqual(
    off.services.map((r) => [r.name, r.state, r.reason, r.gpus, r.live?.stop ?? null]),
    [
      ["llama", "Stopped", "Idle", 2, "true"],
      ["gone", "Running", "Schedule", 1, null],
    ],
  );
  assert.equal(off.services[1]!.live, null);
  const fresh = o.schedules[0]!;
  assert.equal(fresh.reported, false);
  assert.deepEqual(
    fresh.services.map((r) => [r.name, r.state, r.reason, r.gpus]),
    [["resnet", "Running", "-", 2]],
  );
  assert.deepEqual(o.notSelected, ["ml/orphan"]);
  const text = renderOverview(o, entries, TUE_1000);
  assert.match(text, /^ml\/office \(UTC\) {2}Ready=True$/m);
  assert.match(text, /next: Stopped at 2026-12-01T20:00:00Z \(Tue 2026-12-01 20:00 \+00:00 UTC, in 10h\)/);
  assert.match(text, /1 running, 1 stopped, 2 GPUs reclaimed now, 1\.5 GPU-hours reclaimed/);
  assert.match(text, /SERVICE +STATE +REASON +SINCE +NEXT +GPUS +CONFIRMED +ANNOTATIONS/);
  assert.match(text, /llama +Stopped +Idle +1h +10h +2 +yes +-/);
  assert.match(text, /gone +Running +Schedule +- +- +1 +no +\(deleted\)/);
  assert.match(text, /ml\/fresh \(UTC\) {2}no status yet: is the daemon running/);
  assert.match(text, /resnet +Running +- +- +- +2 +- +keep-running 2h/);
  assert.match(text, /Not selected by any valid ServingSchedule \(the daemon leaves them alone\):\n {2}ml\/orphan/);
  assert.equal(renderOverview({ schedules: [], notSelected: [] }, [], TUE_1000), "no ServingSchedule found\n");
});

test("time and table helpers", () => {
  assert.equal(span(90_000), "1m");
  assert.equal(span(3 * 3_600_000 + 5 * 60_000), "3h5m");
  assert.equal(span(26 * 3_600_000), "1d2h");
  assert.equal(relative(TUE_1000 + 60_000, TUE_1000), "in 1m");
  assert.equal(relative(TUE_1000 - 40_000, TUE_1000), "40s ago");
  assert.equal(rfc3339(TUE_1000 + 999), "2026-12-01T10:00:00Z");
  assert.deepEqual(
    columns([
      ["a", "bb", "c"],
      ["ccc", "d", "e"],
    ]),
    ["a    bb  c", "ccc  d   e"],
  );
  const entries = [compileEntry(office())];
  const first = entries[0];
  assert.ok(first?.ok);
  assert.equal(upcoming(first.compiled, TUE_1000, 2).length, 2);
});

test("describeFailure: one line for each kind of failure", () => {
  const server = "https://k:6443";
  assert.equal(
    describeFailure("InferenceService ml/x", server, {
      code: 404,
      body: JSON.stringify({ reason: "NotFound", message: 'inferenceservices.serving.kserve.io "x" not found' }),
    }),
    "InferenceService ml/x not found",
  );
  assert.match(describeFailure("ServingSchedules", server, { code: 404, body: "404 page not found", message: "HTTP-Code: 404" }), /.*/);
  assert.match(
    describeFailure("ServingSchedules in namespace ml", server, {
      code: 404,
      body: JSON.stringify({ reason: "NotFound", message: "the server could not find the requested resource" }),
    }),
    /is the CRD installed\?/,
  );
  assert.equal(
    describeFailure("x", server, {
      code: 403,
      body: JSON.stringify({
        reason: "Forbidden",
        message: 'inferenceservices.serving.kserve.io "x" is forbidden: User "bob" cannot patch',
      }),
    }),
    'forbidden: inferenceservices.serving.kserve.io "x" is forbidden: User "bob" cannot patch',
  );
  assert.match(describeFailure("x", server, { code: 401 }), /not authenticated to https:\/\/k:6443/);
  const network = Object.assign(new TypeError("fetch failed"), {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" }),
  });
  assert.equal(
    describeFailure("x", server, network),
    "cannot reach the Kubernetes API at https://k:6443: connect ECONNREFUSED 127.0.0.1:6443",
  );
  assert.match(describeFailure("x", server, { timeout: true }), /no answer within 30s/);
  assert.doesNotMatch(describeFailure("x", server, { code: 500, body: "line one\nline two" }), /\n/);
});
