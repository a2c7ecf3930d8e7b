// The schedule engine's public API, the one door into src/schedule/ for everything above it.
// Semantics: src/schedule/engine.ts (header) and docs/schedule-semantics.md.
export type { State, Reason, StateAt, Transition, Segment, CompiledSchedule } from "./engine.ts";
export {
  compileSchedule,
  stateAt,
  transitionsBetween,
  nextTransition,
  timeline,
  formatInstant,
  localDateTimeToInstant,
  CRON_LOOKBACK_DAYS,
  DEFAULT_HORIZON_MS,
} from "./engine.ts";
export type { ScheduleSpec, ScheduleException, UptimeRule, WindowUptime, CronUptime, HolidayCalendarRule, ScheduledState } from "./spec.ts";
export { isCronUptime } from "./spec.ts";
export {
  parseDuration,
  parseBoundedDuration,
  formatDuration,
  MAX_TIMER_DELAY_MS,
  type DurationBounds,
  type BoundedDuration,
} from "./duration.ts";
export { cronProblem } from "./cronSyntax.ts";
export { compileCron, cronDayProfile, sameCronInstants } from "./cron.ts";
export {
  closeMatches,
  HOLIDAY_TYPES,
  holidayCountries,
  holidayRegions,
  isKnownCountry,
  isKnownRegion,
  holidaysOf,
  type HolidayType,
} from "./holidays.ts";
export { civilFromDays, daysFromCivil, weekday, DAY_MS, HOUR_MS, MINUTE_MS } from "./civil.ts";
export { parseDays, parseTimeOfDay } from "./days.ts";
export { zoneOffsets, type ZoneOffsets } from "./zone.ts";
export { firstQuickFlip, MIN_FLIP_GAP_MS } from "./flips.ts";
