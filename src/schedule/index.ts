// The schedule engine's public API. Semantics: src/schedule/engine.ts (header) and docs/schedule-semantics.md.
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
