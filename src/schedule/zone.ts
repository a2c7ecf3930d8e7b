// Time-zone arithmetic for the engine: UTC offsets with a cache, and the conversion of a local wall
// time to an instant under the DST rules of src/schedule/engine.ts (gap: forward by the gap's
// length; overlap: the earlier instant). Luxon supplies raw offsets only; its own local-to-instant
// conversion picks the LATER instant in an overlap, which is not our rule, so we do not use it.
import { IANAZone } from "luxon";
import { civilFromDays, DAY_MS, HOUR_MS, MINUTE_MS } from "./civil.ts";

/** Offsets are cached per chunk of 2^32 ms (about 49.7 days) of UTC time. */
const CHUNK_MS = 2 ** 32;
/**
 * Offsets are sampled every 6 hours and a change is located to the millisecond by bisection. Two
 * offset changes less than 6 hours apart would be seen as one; no zone in the tz database has that.
 */
const SAMPLE_MS = 6 * HOUR_MS;

type Chunk = { readonly offset0: number; readonly at: readonly number[]; readonly offsets: readonly number[] };

/** UTC offsets (in ms, local = utc + offset) of one IANA zone, cached. Get one with zoneOffsets(). */
export class ZoneOffsets {
  readonly name: string;
  readonly #zone: IANAZone;
  readonly #chunks = new Map<number, Chunk>();

  constructor(name: string) {
    const zone = IANAZone.create(name);
    if (!zone.isValid) throw new Error(`unknown IANA time zone "${name}"`);
    this.name = name;
    this.#zone = zone;
  }

  #raw(t: number): number {
    return Math.round(this.#zone.offset(t) * MINUTE_MS);
  }

  #build(index: number): Chunk {
    const start = index * CHUNK_MS;
    const end = start + CHUNK_MS;
    const offset0 = this.#raw(start);
    const at: number[] = [];
    const offsets: number[] = [];
    let prevT = start;
    let prev = offset0;
    for (let t = Math.min(start + SAMPLE_MS, end - 1); ; t = Math.min(t + SAMPLE_MS, end - 1)) {
      const o = this.#raw(t);
      if (o !== prev) {
        // first instant in (prevT, t] whose offset differs from prev
        let lo = prevT;
        let hi = t;
        while (hi - lo > 1) {
          const mid = lo + Math.floor((hi - lo) / 2);
          if (this.#raw(mid) === prev) lo = mid;
          else hi = mid;
        }
        at.push(hi);
        offsets.push(this.#raw(hi));
        prev = this.#raw(hi);
      }
      prevT = t;
      if (t >= end - 1) break;
    }
    const chunk = { offset0, at, offsets };
    this.#chunks.set(index, chunk);
    return chunk;
  }

  /** Offset in ms at instant t (epoch ms). */
  offsetAt(t: number): number {
    const index = Math.floor(t / CHUNK_MS);
    const chunk = this.#chunks.get(index) ?? this.#build(index);
    let o = chunk.offset0;
    const at = chunk.at;
    for (let i = 0; i < at.length; i++) {
      if (t >= (at[i] as number)) o = chunk.offsets[i] as number;
      else break;
    }
    return o;
  }

  /**
   * The instant of a local wall time, given as ms since 1970-01-01T00:00 of local time ("local ms").
   * A wall time that does not exist (spring forward) moves forward by the gap's length; an ambiguous
   * one (fall back) is the earlier instant.
   */
  localToInstant(local: number): number {
    const before = this.offsetAt(local - DAY_MS);
    const after = this.offsetAt(local + DAY_MS);
    if (before === after) return local - before; // no offset change within a day either side
    const t1 = local - before;
    const t2 = local - after;
    const v1 = this.offsetAt(t1) === before;
    const v2 = this.offsetAt(t2) === after;
    if (v1 && v2) return Math.min(t1, t2); // overlap: the earlier instant
    if (v1) return t1;
    if (v2) return t2;
    return t1; // gap: read with the offset before it = moved forward by the gap's length
  }

  /** Local ms of an instant. */
  toLocal(t: number): number {
    return t + this.offsetAt(t);
  }

  /** Local day number (days since 1970-01-01 in local time) of an instant. */
  localDay(t: number): number {
    return Math.floor(this.toLocal(t) / DAY_MS);
  }

  /** ISO 8601 with milliseconds and this zone's offset, e.g. 2026-12-01T07:45:00.000+01:00 (UTC as +00:00). */
  format(t: number): string {
    const offset = this.offsetAt(t);
    const local = t + offset;
    const dayNumber = Math.floor(local / DAY_MS);
    const { year, month, day } = civilFromDays(dayNumber);
    let rest = local - dayNumber * DAY_MS;
    const hh = Math.floor(rest / HOUR_MS);
    rest -= hh * HOUR_MS;
    const mm = Math.floor(rest / MINUTE_MS);
    rest -= mm * MINUTE_MS;
    const ss = Math.floor(rest / 1000);
    const ms = rest - ss * 1000;
    const offMin = Math.round(Math.abs(offset) / MINUTE_MS);
    const sign = offset < 0 ? "-" : "+";
    return (
      `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(ms, 3)}` +
      `${sign}${pad(Math.floor(offMin / 60), 2)}:${pad(offMin % 60, 2)}`
    );
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

const cache = new Map<string, ZoneOffsets>();

/** The shared, cached offsets of an IANA zone; throws on an unknown zone. */
export function zoneOffsets(name: string): ZoneOffsets {
  let z = cache.get(name);
  if (!z) {
    z = new ZoneOffsets(name);
    cache.set(name, z);
  }
  return z;
}
