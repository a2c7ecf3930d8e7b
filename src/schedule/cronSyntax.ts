// Cron expressions: our own parser for the 5 fields, so that what `validate` accepts is exactly what
// the engine (src/schedule/cron.ts) turns into instants. node-cron's parser accepts L, W, # and ? but
// its expanded fields lose them ("1#2" comes back as plain Sunday), and it accepts forms we cannot
// honour (LW, L-3, seconds); a parser of our own rejects those by name instead of misreading them.
//
// Accepted, per field, as lists of terms separated by ",":
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or SUN-SAT
//   (0 and 7 are Sunday); names in any case, short or full ("mon", "Monday"); "*"; a value; a range
//   "a-b" (a > b wraps: "FRI-MON" = Fri, Sat, Sun, Mon; "50-10" in minutes wraps the hour); a step
//   "*/s" or "a-b/s". Day-of-month also takes "L" (the last day of the month, alone or in a list)
//   and "nW" (the weekday Mon-Fri nearest to day n; alone only); day-of-week takes "nL" (the last
//   weekday n of the month) and "n#k" (the k-th weekday n, k 1-5), both in lists too. "?" is "*" in
//   the two day fields.

export type NthWeekday = { weekday: number; nth: number };

export type CronFields = {
  minute: number[];
  hour: number[];
  /** Plain days of the month, 1..31. */
  dayOfMonth: number[];
  /** "L": the last day of each month. */
  lastDayOfMonth: boolean;
  /** "nW": n, the day whose nearest weekday fires; undefined without W. */
  nearestWeekdayTo: number | undefined;
  month: number[];
  /** Plain weekdays, 0 = Sunday .. 6 = Saturday (7 is folded into 0). */
  dayOfWeek: number[];
  /** "nL": weekdays whose last occurrence in the month fires, 0..6. */
  lastWeekdayOfMonth: number[];
  /** "n#k": the k-th weekday n of the month. */
  nthWeekdayOfMonth: NthWeekday[];
  /** Whether the field was restricted (not "*" or "?"): cron ORs the two day fields when both are. */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
};

type FieldSpec = { name: string; min: number; max: number; names: readonly string[]; allowed: string };

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const FULL_MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FULL_WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const MINUTE: FieldSpec = { name: "minute", min: 0, max: 59, names: [], allowed: "0-59, lists, ranges, steps" };
const HOUR: FieldSpec = { name: "hour", min: 0, max: 23, names: [], allowed: "0-23, lists, ranges, steps" };
const DAY_OF_MONTH: FieldSpec = {
  name: "day-of-month",
  min: 1,
  max: 31,
  names: [],
  allowed: '1-31, lists, ranges, steps, "L" (last day of the month), "nW" alone (weekday nearest to day n), "?"',
};
const MONTH: FieldSpec = { name: "month", min: 1, max: 12, names: MONTHS, allowed: "1-12 or JAN-DEC, lists, ranges, steps" };
const DAY_OF_WEEK: FieldSpec = {
  name: "day-of-week",
  min: 0,
  max: 7,
  names: WEEKDAYS,
  allowed:
    '0-7 or SUN-SAT (0 and 7 are Sunday), lists, ranges, steps, "nL" (last weekday n of the month), "n#k" (k-th weekday n, k 1-5), "?"',
};

class CronSyntaxError extends Error {}

function invalid(field: FieldSpec, text: string, why?: string): never {
  const head = `${field.name} field "${text}"`;
  throw new CronSyntaxError(why ? `${head}: ${why} (allowed: ${field.allowed})` : `${head} is not valid (allowed: ${field.allowed})`);
}

/** A number or (month, day-of-week) a name, within the field's bounds. */
function value(field: FieldSpec, token: string, whole: string): number {
  if (/^\d{1,2}$/.test(token)) {
    const n = Number(token);
    if (n < field.min || n > field.max) invalid(field, whole);
    return n;
  }
  const lower = token.toLowerCase();
  let i = field.names.indexOf(lower);
  if (i < 0 && field === MONTH) i = FULL_MONTHS.indexOf(lower);
  if (i < 0 && field === DAY_OF_WEEK) i = FULL_WEEKDAYS.indexOf(lower);
  if (i < 0) invalid(field, whole);
  return field === MONTH ? i + 1 : i;
}

/** Values of "*", "a", "a-b", "*\/s", "a-b/s", in field order; "a-b" with a > b wraps past the maximum. */
function plainTerm(field: FieldSpec, term: string, whole: string): number[] {
  const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(term);
  if (!m) invalid(field, whole);
  const [range = "", stepText] = m.slice(1);
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!(step >= 1)) invalid(field, whole, "a step must be at least 1");
  // Sunday is both 0 and 7: a wrapping day-of-week range runs through a 7-day week.
  const size = field === DAY_OF_WEEK ? 7 : field.max - field.min + 1;
  let from: number;
  let to: number;
  if (range === "*") [from, to] = [field.min, field === DAY_OF_WEEK ? 6 : field.max];
  else {
    const [a = "", b] = range.split("-");
    from = value(field, a, whole);
    to = b === undefined ? from : value(field, b, whole);
    // "5" with a step has no end in classic cron (Vixie rejects it); we do too rather than guess.
    if (b === undefined && stepText !== undefined) invalid(field, whole, 'a step needs "*" or a range before it, e.g. "*/15" or "0-30/10"');
  }
  const span = from <= to ? to - from : (((to - from) % size) + size) % size;
  const out: number[] = [];
  for (let offset = 0; offset <= span; offset += step) {
    let v = from + offset;
    if (v > field.max || (field === DAY_OF_WEEK && from > to && v > 6)) v -= size;
    out.push(v);
  }
  return out;
}

function plainField(field: FieldSpec, text: string): number[] {
  const out = new Set<number>();
  for (const term of terms(field, text)) for (const v of plainTerm(field, term, text)) out.add(v);
  return [...out].sort((a, b) => a - b);
}

function terms(field: FieldSpec, text: string): string[] {
  const list = text.split(",");
  if (list.some((t) => t === "")) invalid(field, text, "a list has an empty entry");
  return list;
}

function dayOfMonthField(text: string): Pick<CronFields, "dayOfMonth" | "lastDayOfMonth" | "nearestWeekdayTo" | "dayOfMonthRestricted"> {
  const f = DAY_OF_MONTH;
  if (text === "*" || text === "?")
    return { dayOfMonth: plainField(f, "*"), lastDayOfMonth: false, nearestWeekdayTo: undefined, dayOfMonthRestricted: false };
  if (/^lw$/i.test(text)) invalid(f, text, '"LW" (last weekday of the month) is not supported');
  const w = /^(\d{1,2})w$/i.exec(text);
  if (w) {
    const n = Number(w[1]);
    if (n < 1 || n > 31) invalid(f, text);
    return { dayOfMonth: [], lastDayOfMonth: false, nearestWeekdayTo: n, dayOfMonthRestricted: true };
  }
  const days = new Set<number>();
  let last = false;
  for (const term of terms(f, text)) {
    if (/^l$/i.test(term)) last = true;
    else if (/^l-/i.test(term)) invalid(f, text, 'offsets from the last day ("L-3") are not supported');
    else if (/w/i.test(term)) invalid(f, text, '"nW" must stand alone, not in a list or range');
    else if (term === "?" || term.includes("?")) invalid(f, text, '"?" must stand alone');
    else for (const v of plainTerm(f, term, text)) days.add(v);
  }
  return { dayOfMonth: [...days].sort((a, b) => a - b), lastDayOfMonth: last, nearestWeekdayTo: undefined, dayOfMonthRestricted: true };
}

function dayOfWeekField(text: string): Pick<CronFields, "dayOfWeek" | "lastWeekdayOfMonth" | "nthWeekdayOfMonth" | "dayOfWeekRestricted"> {
  const f = DAY_OF_WEEK;
  if (text === "*" || text === "?")
    return { dayOfWeek: plainField(f, "*"), lastWeekdayOfMonth: [], nthWeekdayOfMonth: [], dayOfWeekRestricted: false };
  const days = new Set<number>();
  const last = new Set<number>();
  const nth = new Map<string, NthWeekday>();
  for (const term of terms(f, text)) {
    const hash = /^([A-Za-z0-9]+)#(\d+)$/.exec(term);
    // No weekday name ends in "l", so a trailing L is always "last".
    const lastOf = /^([A-Za-z0-9]+)l$/i.exec(term);
    if (hash) {
      const weekday = value(f, hash[1] as string, text) % 7;
      const k = Number(hash[2]);
      if (k < 1 || k > 5) invalid(f, text, `"#${hash[2]}": k in "n#k" must be 1 to 5 (a month has at most five of each weekday)`);
      nth.set(`${weekday}#${k}`, { weekday, nth: k });
    } else if (lastOf) {
      last.add(value(f, lastOf[1] as string, text) % 7);
    } else if (term.includes("#") || /l$/i.test(term)) {
      invalid(f, text, '"#" and "L" need a single weekday before them, e.g. "1#2" or "5L"');
    } else if (term.includes("?")) invalid(f, text, '"?" must stand alone');
    else for (const v of plainTerm(f, term, text)) days.add(v % 7);
  }
  return {
    dayOfWeek: [...days].sort((a, b) => a - b),
    lastWeekdayOfMonth: [...last].sort((a, b) => a - b),
    nthWeekdayOfMonth: [...nth.values()].sort((a, b) => a.weekday - b.weekday || a.nth - b.nth),
    dayOfWeekRestricted: true,
  };
}

function parseFields(expr: string): CronFields {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronSyntaxError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const [minute, hour, dom, month, dow] = parts as [string, string, string, string, string];
  return {
    minute: plainField(MINUTE, minute),
    hour: plainField(HOUR, hour),
    ...dayOfMonthField(dom),
    month: plainField(MONTH, month),
    ...dayOfWeekField(dow),
  };
}

/** A one-line description of what is wrong with the syntax of a 5-field cron expression, or undefined when it parses. */
export function cronProblem(expr: string): string | undefined {
  try {
    parseFields(expr);
    return undefined;
  } catch (err) {
    if (err instanceof CronSyntaxError) return err.message;
    throw err;
  }
}

/** The expanded fields of an expression; throws on one cronProblem rejects (validate first). */
export function parseCron(expr: string): CronFields {
  try {
    return parseFields(expr);
  } catch (err) {
    throw new Error(`invalid cron expression "${expr}": ${err instanceof Error ? err.message : String(err)}`);
  }
}
