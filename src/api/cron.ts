// Cron expressions are parsed by node-cron, the field's own parser; the engine turns the expanded
// fields into instants itself (see src/schedule/cron.ts) so that daylight-saving rules are ours.
import cron from "node-cron";

export type CronFields = {
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  /** 0 = Sunday .. 6 = Saturday (7 is folded into 0 by the parser). */
  dayOfWeek: number[];
  /** Whether the day-of-month / day-of-week field was restricted (not "*"): cron ORs them when both are. */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
};

type Detailed = {
  valid: boolean;
  errors: { field: string; value: string; message: string }[];
  fields?: { minute: number[]; hour: number[]; dayOfMonth: number[]; month: number[]; dayOfWeek: number[] };
};

function detailed(expr: string): Detailed {
  return (cron as unknown as { validateDetailed(e: string): Detailed }).validateDetailed(expr);
}

/** A one-line description of what is wrong with a 5-field cron expression, or undefined when it is valid. */
export function cronProblem(expr: string): string | undefined {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`;
  const result = detailed(expr);
  if (result.valid) return undefined;
  const first = result.errors[0];
  if (!first) return "invalid cron expression";
  const field = FIELDS[first.field];
  if (!field) return `${first.field}: ${first.message}`;
  if (/impossible/.test(first.message)) return `${field.name} "${parts[2]}" never occurs in month "${parts[3]}"`;
  return `${field.name} field "${first.value || parts[field.index]}" is not valid (allowed: ${field.allowed})`;
}

const FIELDS: Record<string, { name: string; index: number; allowed: string }> = {
  minute: { name: "minute", index: 0, allowed: "0-59, lists, ranges, steps" },
  hour: { name: "hour", index: 1, allowed: "0-23, lists, ranges, steps" },
  dayOfMonth: { name: "day-of-month", index: 2, allowed: "1-31, lists, ranges, steps" },
  month: { name: "month", index: 3, allowed: "1-12 or JAN-DEC, lists, ranges, steps" },
  dayOfWeek: { name: "day-of-week", index: 4, allowed: "0-7 or SUN-SAT (0 and 7 are Sunday), lists, ranges, steps" },
};

/** Expanded fields of a valid 5-field expression; throws on an invalid one (validate first). */
export function parseCron(expr: string): CronFields {
  const problem = cronProblem(expr);
  const result = detailed(expr);
  if (problem || !result.fields) throw new Error(`invalid cron expression "${expr}": ${problem ?? "no fields"}`);
  const parts = expr.trim().split(/\s+/);
  const f = result.fields;
  return {
    minute: [...f.minute],
    hour: [...f.hour],
    dayOfMonth: [...f.dayOfMonth],
    month: [...f.month],
    dayOfWeek: [...new Set(f.dayOfWeek.map((d) => d % 7))].sort((a, b) => a - b),
    dayOfMonthRestricted: !isWildcard(parts[2]),
    dayOfWeekRestricted: !isWildcard(parts[4]),
  };
}

function isWildcard(field: string | undefined): boolean {
  return field === "*" || field === "?";
}
