// Shared helpers for the schedule engine tests: build a compiled schedule from spec input (through the
// zod schema, as the CLI and daemon do) and render transitions as literal strings.
import { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";
import { compileSchedule, formatInstant, transitionsBetween, type CompiledSchedule, type Transition } from "../../../src/schedule/index.ts";

export function sched(input: unknown): CompiledSchedule {
  return compileSchedule(ServingScheduleSpec.parse(input));
}

/** An ISO instant with offset (or Z) -> epoch ms; throws on anything Date.parse does not read. */
export function ms(iso: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad instant ${iso}`);
  return t;
}

export function show(s: CompiledSchedule, t: Transition): string {
  return `${formatInstant(s, t.at)} ${t.state} ${t.reason}${t.detail === undefined ? "" : ` ${t.detail}`}`;
}

/** Transitions in (from, until] as "ISO State Reason [detail]" strings. */
export function trs(s: CompiledSchedule, from: string, until: string): string[] {
  return transitionsBetween(s, ms(from), ms(until)).map((t) => show(s, t));
}
