// Parsing of the window form's "days" and "HH:MM" fields (see the semantics in src/schedule/engine.ts).

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

function dayIndex(name: string): number {
  const i = (DAY_NAMES as readonly string[]).indexOf(name.trim().toLowerCase());
  if (i < 0) throw new Error(`unknown day "${name}" (expected Mon..Sun)`);
  return i;
}

/**
 * A 7-bit mask (bit 0 = Sunday .. bit 6 = Saturday) of the days a window opens on. "*" is every day;
 * terms are separated by ","; a range "A-B" runs forward from A to B and wraps past Sunday
 * ("Fri-Mon" = Fri, Sat, Sun, Mon); "A-A" is the single day A. Case-insensitive.
 */
export function parseDays(days: string): number {
  const text = days.trim();
  if (text === "*") return 0b1111111;
  let mask = 0;
  for (const term of text.split(",")) {
    const parts = term.split("-");
    if (parts.length === 1) {
      mask |= 1 << dayIndex(parts[0] ?? "");
    } else if (parts.length === 2) {
      const from = dayIndex(parts[0] ?? "");
      const to = dayIndex(parts[1] ?? "");
      for (let d = from; ; d = (d + 1) % 7) {
        mask |= 1 << d;
        if (d === to) break;
      }
    } else {
      throw new Error(`invalid day range "${term}"`);
    }
  }
  return mask;
}

/** Minutes since local midnight of "HH:MM" ("24:00" = 1440). */
export function parseTimeOfDay(text: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`invalid time of day "${text}" (expected HH:MM)`);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || minutes > 1440) throw new Error(`invalid time of day "${text}"`);
  return minutes;
}
