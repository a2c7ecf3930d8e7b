// What the engine reads from a schedule. The API (src/api/servingSchedule.ts) validates a ServingSchedule
// and its parsed spec must fit these shapes (the compiler checks that there); the engine depends on
// nothing above it, so it can be read, tested and benchmarked on its own.
import type { HolidayType } from "./holidays.ts";

export type ScheduledState = "Running" | "Stopped";

/** Days on which the window opens ("Mon-Fri"), and its local times "HH:MM" (`to` may be "24:00"). */
export type WindowUptime = { readonly days: string; readonly from: string; readonly to: string };

/** An uptime window as two 5-field cron expressions in the schedule's zone. */
export type CronUptime = { readonly cron: { readonly start: string; readonly stop: string } };

export type UptimeRule = WindowUptime | CronUptime;

/** Local "YYYY-MM-DD[THH:MM]" or yearly "--MM-DD[THH:MM]" bounds, [from, to). */
export type ScheduleException = {
  readonly from: string;
  readonly to: string;
  readonly state: ScheduledState;
  readonly reason?: string | undefined;
};

export type HolidayCalendarRule = {
  readonly country: string;
  readonly region?: string | undefined;
  readonly types: readonly HolidayType[];
  readonly state: ScheduledState;
};

export type ScheduleSpec = {
  readonly timeZone: string;
  readonly uptime?: readonly UptimeRule[] | undefined;
  readonly exceptions?: readonly ScheduleException[] | undefined;
  readonly holidays?: readonly HolidayCalendarRule[] | undefined;
  /** A duration such as "15m": each window starts this much earlier. */
  readonly warmup?: string | undefined;
};

export function isCronUptime(u: UptimeRule): u is CronUptime {
  return "cron" in u;
}
