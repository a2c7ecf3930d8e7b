// Holiday calendars and yearly exceptions against the real daemon and control plane, on whatever day
// the test runs. The daemon has no fake clock, so the test chooses, when it starts, schedules whose
// boundaries are a minute or two away:
//  - a holiday: an IANA zone and a country with a public holiday on that zone's local date. When some
//    zone's next local midnight is 75 s to 4 min away and its new date is a holiday somewhere, the
//    holiday itself begins at that midnight. Otherwise (local midnights only come at :00, :15 and :30
//    past the hour in UTC, so usually) the zone's current date is a holiday and a Running exception,
//    which comes before holidays, holds the service up until a whole minute ahead: there the holiday
//    takes over. If no country has a public holiday on any local date on Earth right now, a yearly
//    exception "--MM-DD" for the local date stands in for it (said in the test's output).
//  - a yearly exception "--MM-DDTHH:MM" to "--MM-DDTHH:MM" in UTC: stopped when it begins, started
//    when it ends, a minute later (across the year end too, on December 31).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { apply, createNamespace, DaemonProcess, gpuService, installCrd, kube, nextBoundary, schedule } from "../support/daemon.ts";
import { readOrUndefined } from "../support/kube.ts";
import { civilFromDays, DAY_MS } from "../../src/schedule/civil.ts";
import { holidayCountries, holidaysOf } from "../../src/schedule/holidays.ts";
import { zoneOffsets, type ZoneOffsets } from "../../src/schedule/zone.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const run = `h${Date.now().toString(36).slice(-5)}`;
const HOLIDAY_NS = `${run}-holiday`;
const YEARLY_NS = `${run}-yearly`;
const STOP = "serving.kserve.io/stop";
let daemon: DaemonProcess | undefined;

const pad = (n: number) => String(n).padStart(2, "0");
const isoDate = (dayNumber: number) => {
  const { year, month, day } = civilFromDays(dayNumber);
  return `${year}-${pad(month)}-${pad(day)}`;
};
/** "HH:MM" of an instant in a zone; zone offsets are whole minutes, so whole minutes stay whole. */
const localTime = (zone: ZoneOffsets, t: number) => zone.format(t).slice(11, 16);

/** The first country (in code order) with a public holiday on the local date, and its name. */
function holidayOn(dayNumber: number): { country: string; name: string } | undefined {
  const { year, month, day } = civilFromDays(dayNumber);
  // a holiday of several days may have begun in the previous year
  const years = month === 1 && day <= 7 ? [year - 1, year] : [year];
  for (const country of Object.keys(holidayCountries()).sort()) {
    for (const y of years) {
      const h = holidaysOf(country, undefined, ["public"], y).find((d) => d.day <= dayNumber && dayNumber < d.day + d.days);
      if (h) return { country, name: h.name };
    }
  }
  return undefined;
}

type HolidayPlan = { spec: Record<string, unknown>; at: number; reason: string; how: string };

function chooseHoliday(now: number): HolidayPlan {
  const zones = [...Intl.supportedValuesOf("timeZone"), "UTC"].map((name) => zoneOffsets(name));
  const nextMidnight = (z: ZoneOffsets) => z.localToInstant((z.localDay(now) + 1) * DAY_MS);
  for (const z of zones) {
    const m = nextMidnight(z);
    if (m - now < 75_000 || m - now > 240_000) continue;
    const found = holidayOn(z.localDay(m));
    if (found) {
      return {
        spec: { timeZone: z.name, holidays: [{ country: found.country }] },
        at: m,
        reason: `Holiday: ${found.name}`,
        how: `${found.country} holiday "${found.name}" begins at local midnight in ${z.name}`,
      };
    }
  }
  const at = nextBoundary(45_000);
  // the local date must last beyond the boundary, and the seen dates are tried once each
  const tried = new Set<number>();
  for (const z of zones) {
    const today = z.localDay(now);
    if (nextMidnight(z) - at < 120_000 || tried.has(today)) continue;
    tried.add(today);
    const found = holidayOn(today);
    if (!found) continue;
    return {
      spec: {
        timeZone: z.name,
        holidays: [{ country: found.country }],
        exceptions: [
          { from: isoDate(today), to: `${isoDate(today)}T${localTime(z, at)}`, state: "Running", reason: "Until the test's boundary" },
        ],
      },
      at,
      reason: `Holiday: ${found.name}`,
      how: `${found.country} holiday "${found.name}" in ${z.name} takes over from a Running exception`,
    };
  }
  const utc = zoneOffsets("UTC");
  const today = utc.localDay(now);
  const { month, day } = civilFromDays(today);
  const { month: nextMonth, day: nextDay } = civilFromDays(today + 1);
  return {
    spec: {
      timeZone: "UTC",
      exceptions: [
        { from: isoDate(today), to: `${isoDate(today)}T${localTime(utc, at)}`, state: "Running", reason: "Until the test's boundary" },
        { from: `--${pad(month)}-${pad(day)}`, to: `--${pad(nextMonth)}-${pad(nextDay)}`, state: "Stopped", reason: "Stand-in holiday" },
      ],
    },
    at,
    reason: "Stand-in holiday",
    how: "no public holiday anywhere today: a yearly exception for the local date stands in",
  };
}

const readIsvc = (namespace: string, name: string) =>
  readOrUndefined<KubernetesObject & { metadata: { annotations?: Record<string, string> } }>(objects, {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name, namespace },
  });
const stopAnnotation = async (namespace: string, name: string) => (await readIsvc(namespace, name))?.metadata.annotations?.[STOP];

/** Polls every 100 ms and returns the instant the stop annotation is first seen with `value`. */
async function firstSeen(namespace: string, name: string, value: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await stopAnnotation(namespace, name)) === value) return Date.now();
    await sleep(100);
  }
  throw new Error(`${namespace}/${name}: ${STOP} never became "${value}"; daemon:\n${daemon?.tail()}`);
}

/** Messages of the Events of one reason on an object (a schedule: its transitions are reported there, one Event per transition). */
async function eventMessages(namespace: string, object: string, reason: string): Promise<string[]> {
  const list = await objects.list<KubernetesObject & { reason: string; message: string; involvedObject: { name: string } }>(
    "v1",
    "Event",
    namespace,
  );
  return list.items.filter((e) => e.involvedObject.name === object && e.reason === reason).map((e) => e.message);
}

const holiday = chooseHoliday(Date.now());
const Y1 = nextBoundary(45_000);
const Y2 = Y1 + 60_000;
const yearly = (t: number) => `--${new Date(t).toISOString().slice(5, 16)}`;

before(async () => {
  console.log(`holidays test: ${holiday.how}; boundary ${new Date(holiday.at).toISOString()}`);
  await installCrd(kc);
  await createNamespace(objects, HOLIDAY_NS);
  await createNamespace(objects, YEARLY_NS);
  await apply(objects, gpuService(HOLIDAY_NS, "llm"));
  await apply(objects, gpuService(YEARLY_NS, "llm"));
  await apply(objects, schedule(HOLIDAY_NS, "holidays", holiday.spec));
  await apply(
    objects,
    schedule(YEARLY_NS, "shutdown", {
      timeZone: "UTC",
      exceptions: [{ from: yearly(Y1), to: yearly(Y2), state: "Stopped", reason: "Company shutdown" }],
    }),
  );
  daemon = new DaemonProcess("daemon-holidays", ["--kubeconfig", cluster.kubeconfigPath, "--namespaces", `${HOLIDAY_NS},${YEARLY_NS}`]);
  await daemon.ready();
});

after(async () => {
  if (!daemon) return;
  assert.equal(await daemon.stop("SIGTERM"), 0, "SIGTERM ends the daemon cleanly");
});

// concurrently: both boundaries are a minute or two from the start
describe("holidays and yearly exceptions with the real daemon", { concurrency: true }, () => {
  test("a holiday stops the service when it begins, and the Event names the holiday", { timeout: 330_000 }, async () => {
    assert.ok(Date.now() < holiday.at, "the boundary is still ahead once the daemon is ready");
    assert.notEqual(await stopAnnotation(HOLIDAY_NS, "llm"), "true", "running before the holiday");
    const stopped = await firstSeen(HOLIDAY_NS, "llm", "true", holiday.at - Date.now() + 30_000);
    assert.ok(stopped >= holiday.at, `not stopped before the holiday began (${new Date(stopped).toISOString()})`);
    assert.ok(stopped - holiday.at < 15_000, `stopped within 15 s of the boundary (${stopped - holiday.at} ms)`);
    const deadline = Date.now() + 30_000;
    let messages: string[] = [];
    while (Date.now() < deadline && !messages.some((m) => m.includes(holiday.reason))) {
      messages = await eventMessages(HOLIDAY_NS, "holidays", "Stopped");
      await sleep(500);
    }
    assert.ok(
      messages.some((m) => m.includes(`exception "${holiday.reason}"`)),
      `the schedule's Stopped Event says why: ${JSON.stringify(messages)}`,
    );
  });

  test("a yearly exception --MM-DDTHH:MM stops the service when it begins and starts it when it ends", { timeout: 330_000 }, async () => {
    const stopped = await firstSeen(YEARLY_NS, "llm", "true", Y1 - Date.now() + 30_000);
    assert.ok(stopped >= Y1 && stopped - Y1 < 15_000, `stopped at the start (${stopped - Y1} ms after it)`);
    const started = await firstSeen(YEARLY_NS, "llm", "false", Y2 - Date.now() + 30_000);
    assert.ok(started >= Y2 && started - Y2 < 15_000, `started at the end (${started - Y2} ms after it)`);
    const messages = await eventMessages(YEARLY_NS, "shutdown", "Stopped");
    assert.ok(
      messages.some((m) => m.includes('exception "Company shutdown"')),
      `the schedule's Stopped Event says why: ${JSON.stringify(messages)}`,
    );
  });
});
