// `validate <file|dir>...`: every problem of every ServingSchedule, one line each on stderr.
import { formatProblem, type LocatedProblem } from "../api/manifests.ts";
import { parseCommandLine } from "./arguments.ts";
import type { FlagTable } from "../config/flags.ts";
import { readManifests } from "./files.ts";
import { visible } from "../report/visible.ts";
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIO, type Command } from "./io.ts";

const VALIDATE_FLAGS = {
  exclude: {
    type: "string",
    multiple: true,
    value: "GLOB",
    description: "skip files and directories matching the glob, e.g. 'deploy/helm/**/templates/**'",
  },
  output: {
    type: "string",
    short: "o",
    default: "text",
    value: "FORMAT",
    description: "text, or json: one JSON list of {file, line, name, path, message, severity} on stdout (for CI annotations)",
  },
} as const satisfies FlagTable;

export const validateCommand: Command = {
  name: "validate",
  summary: "check ServingSchedule manifests (schema and meaning)",
  usage: `validate <file|dir|->...

Reads every ServingSchedule in the files and directories given (multi-document YAML; directories
recursively, .yaml/.yml; other kinds are skipped; - is standard input; at most 1 MiB and 1000
documents per file). Prints each problem on stderr as
  <file>:<line>: <namespace/name>: <field path>: <message>
and each warning (a valid schedule that is most likely a mistake) as
  <file>:<line>: <namespace/name>: <field path>: warning: <message>
Exit status: 0 all valid, 1 any invalid (or none found), 2 usage error.`,
  flags: VALIDATE_FLAGS,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { positionals, values } = parseCommandLine(argv, VALIDATE_FLAGS);
    if (values.output !== "text" && values.output !== "json") throw new UsageError(`--output must be text or json, not "${values.output}"`);
    if (positionals.length === 0) throw new UsageError("validate needs at least one file or directory");
    const { schedules, problems, warnings, files: read } = await readManifests(positionals, undefined, io.now(), values.exclude);
    if (values.output === "json") io.out(`${JSON.stringify(problemsJson(problems, warnings ?? []))}\n`);
    else {
      for (const p of problems) io.err(`${visible(formatProblem(p))}\n`);
      for (const w of warnings ?? []) io.err(`${visible(formatProblem(w))}\n`);
    }
    if (problems.length > 0) return EXIT_INVALID;
    if (schedules.length === 0) {
      io.err(`no ServingSchedule found in ${plural(read, "file")}\n`);
      return EXIT_INVALID;
    }
    const files = new Set(schedules.map((s) => s.file)).size;
    if (values.output === "text") io.out(`${plural(schedules.length, "schedule")} valid in ${plural(files, "file")}\n`);
    return EXIT_OK;
  },
};

/**
 * The stable JSON form: fields are only added, never renamed. `path` is "" when the problem is not
 * about one field, `name` "-" before an object exists (a YAML syntax error).
 */
export function problemsJson(problems: readonly LocatedProblem[], warnings: readonly LocatedProblem[]) {
  const entry = (p: LocatedProblem, severity: "error" | "warning") => ({
    file: p.file,
    line: p.line,
    name: p.name,
    path: p.path,
    message: severity === "warning" ? p.message.replace(/^warning: /, "") : p.message,
    severity,
  });
  return [...problems.map((p) => entry(p, "error")), ...warnings.map((w) => entry(w, "warning"))];
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
