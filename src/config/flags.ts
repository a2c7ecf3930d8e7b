// One table per command describes its flags: parsing, `help`, the flag tables of docs/cli.md and
// shell completion are all generated from it, so none of them can disagree with what is accepted.
// Parsing is lenient (node's parseArgs without strict, then checked here): every mistake is
// collected with a message for people, so one typo does not hide the next, and parseArgs' own
// messages (written for developers, with quoting advice) never reach the user.
import { parseArgs } from "node:util";

export type FlagSpec = {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Applied when the flag is absent. Left out where something else (RECLAIMER_* env) supplies the default. */
  default?: string | boolean;
  description: string;
  /** The default as help shows it, where `default` is not set or not self-explanatory. */
  defaultText?: string;
  /** Placeholder for the value in help: FILE, URL, NAME. */
  value?: string;
};

export type FlagTable = Readonly<Record<string, FlagSpec>>;

type Value<S extends FlagSpec> = S["type"] extends "boolean" ? boolean : string;
export type FlagValues<T extends FlagTable> = {
  [K in keyof T]: T[K] extends { multiple: true }
    ? Value<T[K]>[] | undefined
    : T[K] extends { default: string | boolean }
      ? Value<T[K]>
      : Value<T[K]> | undefined;
};

export type ParsedFlags<T extends FlagTable> = { values: FlagValues<T>; positionals: string[]; problems: string[] };

const TRUE = new Set(["true", "1"]);
const FALSE = new Set(["false", "0"]);

/**
 * Every problem of the command line, in order; values of the flags that parsed well. With
 * `spacedBooleans` (a command without positionals) `--flag true` is read as `--flag=true`, as the
 * daemon's string-typed booleans once were.
 */
export function parseFlags<T extends FlagTable>(argv: readonly string[], table: T, how: { spacedBooleans?: boolean } = {}): ParsedFlags<T> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, f] of Object.entries(table)) options[name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const problems: string[] = [];
  // `--prometeus-url x`: the x is the misspelt flag's value, not an argument of its own
  let valueOfUnknown = -1;
  let boolean: { name: string; index: number } | undefined;
  for (const t of tokens) {
    const after = boolean;
    boolean = undefined;
    if (t.kind === "positional" && after?.index === t.index - 1 && (TRUE.has(t.value) || FALSE.has(t.value))) {
      values[after.name] = TRUE.has(t.value);
      continue;
    }
    if (t.kind === "positional" && t.index !== valueOfUnknown) positionals.push(t.value);
    if (t.kind !== "option") continue;
    const spec = table[t.name];
    if (spec === undefined) {
      const near = closest(t.rawName, knownFlags(table));
      problems.push(`unknown flag ${t.rawName}${near ? `: did you mean ${near}?` : ""}`);
      const nearSpec =
        near === undefined ? undefined : Object.entries(table).find(([n, f]) => near === `--${n}` || near === `-${f.short}`)?.[1];
      if (t.value === undefined && nearSpec?.type === "string") valueOfUnknown = t.index + 1;
      continue;
    }
    let value: string | boolean;
    if (spec.type === "boolean") {
      if (t.value === undefined) {
        value = true;
        if (how.spacedBooleans) boolean = { name: t.name, index: t.index };
      } else if (TRUE.has(t.value)) value = true;
      else if (FALSE.has(t.value)) value = false;
      else {
        problems.push(`${t.rawName} is true or false (or bare), not "${t.value}"`);
        continue;
      }
    } else {
      // parseArgs takes the next argument as the value even when it looks like a flag: a forgotten
      // value would silently swallow the next flag
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-") && t.value !== "-")) {
        const hint =
          t.value === undefined || t.value.startsWith("--") ? "" : ` (for a value that starts with "-", write --${t.name}=${t.value})`;
        problems.push(`${t.rawName} needs a value${hint}`);
        continue;
      }
      value = t.value;
    }
    if (spec.multiple) values[t.name] = [...((values[t.name] as unknown[] | undefined) ?? []), value];
    else values[t.name] = value;
  }
  for (const [name, f] of Object.entries(table)) if (values[name] === undefined && f.default !== undefined) values[name] = f.default;
  return { values: values as FlagValues<T>, positionals, problems };
}

function knownFlags(table: FlagTable): string[] {
  return Object.entries(table).flatMap(([name, f]) => [`--${name}`, ...(f.short ? [`-${f.short}`] : [])]);
}

/** The candidate a typo most likely meant, if one is close enough to be a typo of it. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // a third of the letters may be wrong: "valdiate" is validate, "xyz" is nothing
  return bestDistance <= Math.max(1, Math.floor(word.replace(/^-+/, "").length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: a swap of two neighbours costs 1, as typing does. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** RECLAIMER_<FLAG>: the environment variable `run` also reads a flag from. */
export function envName(flag: string): string {
  return `RECLAIMER_${flag.replace(/-/g, "_").toUpperCase()}`;
}

function flagLabel(name: string, f: FlagSpec): string {
  const value = f.type === "string" ? ` ${f.value ?? "VALUE"}` : "";
  return `${f.short ? `-${f.short}, ` : ""}--${name}${value}`;
}

function defaultOf(f: FlagSpec): string | undefined {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.default === undefined || f.default === false) return undefined;
  return String(f.default);
}

/**
 * The flags as `help` prints them: one per line, its default, and with `env` its RECLAIMER_*
 * variable; `help` adds -h, --help (which is not a flag of the table: main.ts answers it).
 */
export function renderFlags(table: FlagTable, options: { env?: boolean; help?: boolean } = {}): string {
  const rows = Object.entries(table).map(([name, f]) => {
    const notes = [
      ...(f.multiple ? ["repeatable"] : []),
      ...(defaultOf(f) === undefined ? [] : [`default: ${defaultOf(f)}`]),
      ...(options.env ? [`env: ${envName(name)}`] : []),
    ];
    return [flagLabel(name, f), `${f.description}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`] as const;
  });
  if (options.help) rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`).join("\n");
}

/** The same as a Markdown table, for docs/cli.md. */
export function flagsMarkdown(table: FlagTable, options: { env?: boolean } = {}): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const head = options.env
    ? ["| flag | env | default | meaning |", "|---|---|---|---|"]
    : ["| flag | default | meaning |", "|---|---|---|"];
  const rows = Object.entries(table).map(([name, f]) => {
    const d = defaultOf(f);
    const cols = [
      `\`${flagLabel(name, f)}\``,
      ...(options.env ? [`\`${envName(name)}\``] : []),
      d === undefined ? "" : `\`${cell(d)}\``,
      cell(`${f.description}${f.multiple ? " (repeatable)" : ""}`),
    ];
    return `| ${cols.join(" | ")} |`;
  });
  return [...head, ...rows].join("\n");
}
