// plan shows holidays by name, in JSON (detail "Holiday: <name>") and in the table (the transition
// and the week view), and plans years ahead without the calendar lapsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";
import { parseTimeArg, planSchedule, planToJson, renderPlanTable } from "../../../src/plan/plan.ts";

const spec = ServingScheduleSpec.parse({
  timeZone: "Europe/Berlin",
  uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
  holidays: [{ country: "DE", region: "BY" }],
  exceptions: [{ from: "--12-24", to: "--12-27", state: "Stopped", reason: "Company shutdown" }],
});
const plan = (from: string, days: number) => planSchedule("ns/office", spec, parseTimeArg(from) as never, { kind: "days", days });

test("plan JSON names the holiday in detail", () => {
  const json = planToJson([plan("2027-03-29T10:00", 2)]);
  assert.deepEqual(json.schedules[0]?.initial, { state: "Stopped", reason: "Exception", detail: "Holiday: Easter Monday" });
  assert.deepEqual(json.schedules[0]?.transitions, [
    { at: "2027-03-30T08:00:00.000+02:00", state: "Running", reason: "Schedule" },
    { at: "2027-03-30T20:00:00.000+02:00", state: "Stopped", reason: "Schedule" },
    { at: "2027-03-31T08:00:00.000+02:00", state: "Running", reason: "Schedule" },
  ]);
});

test("plan table: the holiday by name at the start and next to the day's bar", () => {
  const text = renderPlanTable([plan("2027-05-26T12:00", 2)]);
  assert.match(text, /Wed 2027-05-26 20:00 \+02:00 {2}Stopped {2}Schedule\n/);
  assert.match(text, /Thu 2027-05-27 -{48} {2}Holiday: Corpus Christi\n/);
  assert.match(text, /Fri 2027-05-28 08:00 \+02:00 {2}Running {2}Schedule\n/);
});

test("a plan ten years ahead still has the holidays and the yearly shutdown", () => {
  const json = planToJson([plan("2036-12-23T12:00", 4)]);
  const s = json.schedules[0];
  // Tuesday evening to the weekend: shutdown Wed-Fri (Boxing Day inside it), so no change until Monday
  assert.deepEqual(
    s?.transitions.map((t) => `${t.at} ${t.state} ${t.reason}`),
    ["2036-12-23T20:00:00.000+01:00 Stopped Schedule"],
  );
  assert.deepEqual(planToJson([plan("2036-12-24T12:00", 1)]).schedules[0]?.initial.detail, "Company shutdown");
  assert.deepEqual(planToJson([plan("2036-04-14T12:00", 1)]).schedules[0]?.initial.detail, "Holiday: Easter Monday");
});
