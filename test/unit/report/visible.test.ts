// Terminal escapes in anything the CLI prints for people: visible() itself, and every printer that
// echoes text it does not control (file names, schedule and service names, annotation values, status
// fields, exception reasons) through it. JSON output is for programs and keeps the text as it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { visible } from "../../../src/report/visible.ts";
import { main } from "../../../src/cli/main.ts";
import type { CliIO } from "../../../src/cli/io.ts";
import { KEEP_RUNNING_UNTIL, STATE, STOP, EXCLUDE } from "../../../src/api/annotations.ts";
import { parseInferenceService } from "../../../src/sources/kube/inferenceService.ts";
import type { ScheduleObject } from "../../../src/sources/kube/servingSchedule.ts";
import { compileEntry } from "../../../src/decide/schedules.ts";
import { evaluate } from "../../../src/cli/decision.ts";
import { sleepMessage } from "../../../src/cli/sleep.ts";
import { overview } from "../../../src/cli/statusJson.ts";
import { renderOverview, renderServiceDetail } from "../../../src/cli/statusText.ts";
import { wakeMessage } from "../../../src/cli/wake.ts";
import { CommandError, describeFailure, reporting } from "../../../src/cli/cluster.ts";
import { planSchedule, renderPlanTable } from "../../../src/plan/plan.ts";
import type { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";

const ESC = "\u001b";
const CLEAR = `${ESC}[2J`;
const LINK = `${ESC}]8;;https://evil.example/${ESC}\\click${ESC}]8;;${ESC}\\`;
const BEL = "\u0007";
const CSI = "\u009b";
const RLO = "\u202e";
const HOSTILE = `${CLEAR}${LINK}${BEL}${CSI}31m${RLO}txt.exe\n\tx\r\u0000\u007f\u2066\u2069\u200f`;
/** Anything a terminal would act on rather than show. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

test("visible: control characters and bidi marks become escapes; other text is untouched", () => {
  assert.equal(visible(CLEAR), "\\x1b[2J");
  assert.equal(visible(LINK), "\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\");
  assert.equal(visible(BEL), "\\x07");
  assert.equal(visible(`${CSI}31m`), "\\u009b31m");
  assert.equal(visible(`${RLO}txt.exe`), "\\u202etxt.exe");
  assert.equal(visible("a\nb\tc\r\u0000\u007f"), "a\\x0ab\\x09c\\x0d\\x00\\x7f");
  assert.equal(
    visible("\u2066\u2069\u200e\u200f\u061c\u2028\u2029\u202a\u202d"),
    "\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028\\u2029\\u202a\\u202d",
  );
  assert.doesNotMatch(visible(HOSTILE), UNSAFE);
  assert.equal(visible(visible(HOSTILE)), visible(HOSTILE));
  const plain = "ml-team/office-hours (Europe/Berlin)  █ running  · stopped  Grüße 東京 C:\\path \u00a0é";
  assert.equal(visible(plain), plain);
});

const NOW = Date.parse("2026-12-01T10:00:00Z");

function schedule(name: string, spec: Record<string, unknown>, status?: unknown): ScheduleObject {
  return {
    metadata: { name, namespace: "ml", creationTimestamp: "2026-01-01T00:00:00Z" },
    spec,
    ...(status === undefined ? {} : { status }),
  };
}

function service(name: string, annotations: Record<string, string>, conditionReason = "Stopped") {
  return parseInferenceService({
    metadata: { name, namespace: "ml", labels: { team: "ml" }, annotations, creationTimestamp: "2026-11-01T00:00:00Z" },
    spec: { predictor: { containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": "1" } } }] } },
    status: { conditions: [{ type: "Ready", status: "False", reason: conditionReason, lastTransitionTime: "2026-12-01T07:00:00Z" }] },
  });
}

function assertClean(text: string, what: string): void {
  const bad = UNSAFE.exec(text.replaceAll("\n", ""));
  assert.equal(bad, null, `${what}: U+${bad?.[0].charCodeAt(0).toString(16).padStart(4, "0")} in ${JSON.stringify(text)}`);
}

test("status: hostile annotation values, status fields, condition reasons and names are shown escaped", () => {
  const spec = {
    timeZone: "UTC",
    selector: { matchLabels: { team: "ml" } },
    uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
    exceptions: [{ from: "2026-12-01", to: "2026-12-02", state: "Running", reason: HOSTILE }],
  };
  const status = {
    conditions: [
      { type: "Ready", status: "False", reason: HOSTILE, message: HOSTILE, lastTransitionTime: "2026-12-01T08:00:00Z" },
      { type: "MetricsAvailable", status: "False", message: HOSTILE },
    ],
    services: [{ name: `llama${CLEAR}`, state: `Stopped${CSI}`, reason: HOSTILE, gpus: 1, confirmed: true }],
  };
  const entries = [compileEntry(schedule(`office${ESC}`, spec, status)), compileEntry(schedule(`broken${BEL}`, { suspend: `yes${CSI}` }))];
  const annotations = { [STOP]: `true${CLEAR}`, [STATE]: `{"v":1${LINK}`, [KEEP_RUNNING_UNTIL]: HOSTILE, [EXCLUDE]: `no${RLO}` };
  const services = [service(`llama${CLEAR}`, annotations, HOSTILE), service(`orphan${RLO}`, {}, "x")];
  services[1]!.metadata.labels = {};
  const text = renderOverview(overview(entries, services, NOW), entries, NOW);
  assertClean(text, "status");
  assert.match(text, /office\\x1b \(UTC\)/);
  assert.match(text, /llama\\x1b\[2J +Stopped\\u009b/);
  assert.match(text, /orphan\\u202e/);
  assert.match(text, /broken\\x07 {2}INVALID: spec\.suspend: .*"yes\\u009b"/);

  const e = evaluate(services[0]!, entries, NOW);
  const detail = renderServiceDetail(e, services[0]!, NOW, HOSTILE);
  assertClean(detail, "status ns/name");
  assert.match(detail, /reclaimer\.dev\/keep-running-until +\\x1b\[2J/);
  assert.match(detail, /Schedule says: +Running \(Exception: \\x1b\[2J\\x1b\]8;;https:\/\/evil\.example\//);
  assert.match(detail, /reclaimer\.dev\/exclude +"no\\u202e"/);
  assertClean(wakeMessage(e, NOW, 3_600_000).join("\n"), "wake");
  assertClean(sleepMessage(e, NOW).join("\n"), "sleep");
});

test("wake and sleep messages escape the names they echo", () => {
  const entries = [
    compileEntry(
      schedule(`office${CLEAR}`, {
        timeZone: "UTC",
        selector: { matchLabels: { team: "ml" } },
        uptime: [{ days: "*", from: "08:00", to: "09:00" }],
        suspend: true,
      }),
    ),
  ];
  const e = evaluate(service(`llama${CSI}2J`, { [STOP]: "true" }), entries, NOW);
  const lines = [...wakeMessage(e, NOW, 3_600_000), ...sleepMessage(e, NOW)];
  for (const l of lines) assertClean(l, "wake/sleep line");
  assert.match(lines[0] ?? "", /^ml\/llama\\u009b2J: /);
  assert.ok(lines.some((l) => l.includes("ml/office\\x1b[2J")));
});

test("a cluster error echoing the server's text is one visible line", async () => {
  const line = describeFailure("InferenceService ml/x", "https://k", {
    code: 500,
    message: `boom${CLEAR}\nsecond`,
    body: { message: `boom${CLEAR}` },
  });
  let err = "";
  const io: CliIO = { out: () => undefined, err: (t) => void (err += t), now: () => NOW };
  assert.equal(await reporting("status", io, () => Promise.reject(new CommandError(`${line}${RLO}`))), 1);
  assertClean(err, "cluster error");
  assert.match(err, /^kserve-reclaimer status: .*boom\\x1b\[2J.*\\u202e\n$/);
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => NOW };
  const code = await main(args, io);
  return { code, out, err };
}

test("validate and plan: file names, names and echoed values are shown escaped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "visible-"));
  const file = join(dir, `evil${CLEAR}.yaml`);
  writeFileSync(
    file,
    `apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: "s${ESC}[31m", namespace: ns}\nspec:\n  suspend: "yes${ESC}]8;;x${BEL}${CSI}"\n`,
  );
  const v = await cli("validate", file);
  assert.equal(v.code, 1);
  assertClean(v.err, "validate");
  assert.equal(v.err.split("\n").length, 2);
  // the message quotes the value as JSON (C0 as \u001b), the rest is escaped on the way out
  assert.match(v.err, /evil\\x1b\[2J\.yaml:5: ns\/s\\x1b\[31m: spec\.suspend: .*"yes\\u001b\]8;;x\\u0007\\u009b"\n$/);

  const bad = await cli("plan", "-f", file, "-o", `x${CLEAR}`);
  assert.equal(bad.code, 2);
  assertClean(bad.err, "usage error");
  const unknown = await cli(`pl${CSI}an`);
  assertClean(unknown.err, "unknown command");

  const good = join(dir, `ok${RLO}.yaml`);
  writeFileSync(
    good,
    `apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: "s${CSI}", namespace: ns}\nspec:\n  uptime: [{days: "*", from: "08:00", to: "20:00"}]\n  exceptions: [{from: "2026-12-01", to: "2026-12-02", state: Stopped, reason: "a\\nb${ESC}[2J"}]\n`,
  );
  const p = await cli("plan", "-f", good, "--from", "2026-12-01", "--days", "2");
  assert.equal(p.code, 0, p.err);
  assertClean(p.out, "plan table");
  assert.match(p.out, /^ns\/s\\u009b \(UTC\) {2}.*ok\\u202e\.yaml$/m);
  assert.match(p.out, /Exception: a\\x0ab\\x1b\[2J/);
  const j = await cli("plan", "-f", good, "--from", "2026-12-01", "--days", "2", "-o", "json");
  assert.match(j.out, /"name":"ns\/s\u009b"/, "JSON keeps the text");
});

test("renderPlanTable escapes what the schedule and the file name carry", () => {
  const spec = {
    timeZone: "UTC",
    uptime: [{ days: "*", from: "08:00", to: "20:00" }],
    exceptions: [{ from: "2026-12-01", to: "2026-12-02", state: "Stopped", reason: HOSTILE }],
  } as ServingScheduleSpec;
  const plan = planSchedule(
    `ns/${HOSTILE}`,
    spec,
    { kind: "instant", ms: Date.parse("2026-12-01T00:00:00Z") },
    { kind: "days", days: 2 },
    `f${HOSTILE}.yaml`,
  );
  assertClean(renderPlanTable([plan]), "plan table");
});
