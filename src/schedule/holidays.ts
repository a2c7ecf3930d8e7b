// Public-holiday calendars for spec.holidays, from the date-holidays package (rules for 200+ countries
// and their regions, Easter-relative and lunar dates included) rather than rules of our own.
//
// Only the calendar DATE of a holiday is taken: date-holidays gives start and end as instants in the
// country's own zone, but a holiday of a schedule runs from local midnight to local midnight in the
// schedule's zone, so the engine turns the dates into instants itself. Names are English where
// date-holidays has an English name, the country's own name otherwise (it falls back by itself).
//
// Working out a year takes date-holidays 10-70 ms, so each (country, region, types, year) is worked
// out once and kept; the engine asks lazily, only for the years a stretch of time touches. Loading
// the package itself (every country's rules) takes a few hundred ms and 30-40 MB, so it is loaded on
// first use: schedules without holidays, and the commands that only read them, never pay for it.
import { createRequire } from "node:module";
import type HolidaysClass from "date-holidays";
import { daysFromCivil, DAY_MS, HOUR_MS } from "./civil.ts";

type Holidays = HolidaysClass;
let loaded: typeof HolidaysClass | undefined;
function dateHolidays(): typeof HolidaysClass {
  loaded ??= createRequire(import.meta.url)("date-holidays") as typeof HolidaysClass;
  return loaded;
}

export const HOLIDAY_TYPES = ["public", "bank", "school", "optional", "observance"] as const;
export type HolidayType = (typeof HOLIDAY_TYPES)[number];

/** A holiday as local calendar days: `days` days from day number `day` (days since 1970-01-01). */
export type HolidayDays = { readonly day: number; readonly days: number; readonly name: string };

// A schedule can only ask for what the schema admits (16 calendars, 5 types), but a plan can walk ten
// years and a daemon runs for months: the bound keeps the memory flat whatever is asked.
const MAX_CACHED_YEARS = 4096;
const MAX_CALENDARS = 256;
const calendars = new Map<string, Holidays>();
const years = new Map<string, readonly HolidayDays[]>();

/** ["bank", "public"] and ["public", "bank"] are one calendar. */
function typesKey(types: readonly HolidayType[]): string {
  return [...types].sort().join(",");
}

function calendarOf(country: string, region: string | undefined, types: readonly HolidayType[]): Holidays {
  const key = `${country}/${region ?? ""}/${typesKey(types)}`;
  let c = calendars.get(key);
  if (!c) {
    if (!isKnownCountry(country)) throw new Error(`unknown holiday country "${country}"`);
    if (region !== undefined && !isKnownRegion(country, region)) throw new Error(`unknown holiday region "${region}" of ${country}`);
    const options = { languages: ["en"], types: [...types] };
    const DateHolidays = dateHolidays();
    c = region === undefined ? new DateHolidays(country, options) : new DateHolidays(country, region, options);
    if (calendars.size >= MAX_CALENDARS) calendars.clear();
    calendars.set(key, c);
  }
  return c;
}

/** The holidays of one calendar year, as local dates; cached. Throws on an unknown country or region. */
export function holidaysOf(
  country: string,
  region: string | undefined,
  types: readonly HolidayType[],
  year: number,
): readonly HolidayDays[] {
  const key = `${country}/${region ?? ""}/${typesKey(types)}/${year}`;
  const cached = years.get(key);
  if (cached) return cached;
  const wanted = new Set<string>(types);
  const out: HolidayDays[] = [];
  for (const h of calendarOf(country, region, types).getHolidays(year)) {
    if (!wanted.has(h.type)) continue;
    const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}))?/.exec(h.date);
    if (!m) continue;
    const day = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
    // Most holidays are one day; some last several ("P3D"), and some begin in the afternoon (Christmas
    // Eve from 14:00 as a bank holiday), which still makes the whole date a holiday. An hour of slack
    // absorbs a daylight-saving change inside the holiday.
    const startInDay = (Number(m[4] ?? 0) * 60 + Number(m[5] ?? 0)) * 60_000;
    const length = h.end.getTime() - h.start.getTime();
    const days = Math.max(1, Math.ceil((startInDay + length - HOUR_MS) / DAY_MS));
    out.push({ day, days, name: h.name });
  }
  out.sort((a, b) => a.day - b.day);
  if (years.size >= MAX_CACHED_YEARS) years.clear();
  years.set(key, out);
  return out;
}

let countryNames: Record<string, string> | undefined;

/** ISO 3166-1 alpha-2 code -> English name, for every country date-holidays knows. */
export function holidayCountries(): Readonly<Record<string, string>> {
  countryNames ??= new (dateHolidays())().getCountries("en");
  return countryNames;
}

const regionNames = new Map<string, Readonly<Record<string, string>>>();

/** Region code -> name for a known country ({} when it has no regions). */
export function holidayRegions(country: string): Readonly<Record<string, string>> {
  let r = regionNames.get(country);
  if (!r) {
    r = isKnownCountry(country) ? (new (dateHolidays())().getStates(country, "en") ?? {}) : {};
    regionNames.set(country, r);
  }
  return r;
}

export function isKnownCountry(country: string): boolean {
  return Object.hasOwn(holidayCountries(), country);
}

export function isKnownRegion(country: string, region: string): boolean {
  return Object.hasOwn(holidayRegions(country), region);
}

/**
 * The codes nearest to a mistyped one: by edit distance (case-insensitive), nearest first, or codes
 * whose name contains the input ("Bayern" finds BY). At most `limit`.
 */
export function closeMatches(input: string, names: Readonly<Record<string, string>>, limit = 8): string[] {
  const wanted = input.toLowerCase();
  const scored: { code: string; score: number }[] = [];
  for (const [code, name] of Object.entries(names)) {
    const d = editDistance(wanted, code.toLowerCase());
    if (d <= Math.max(1, Math.floor(code.length / 2))) scored.push({ code, score: d });
    else if (wanted.length >= 3 && name.toLowerCase().includes(wanted)) scored.push({ code, score: d });
  }
  scored.sort((a, b) => a.score - b.score || (a.code < b.code ? -1 : 1));
  return scored.slice(0, limit).map((s) => s.code);
}

/** Levenshtein distance; inputs are codes of a few characters (bounded by the schema). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}
