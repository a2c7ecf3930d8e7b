// `validate <file|dir>...`: every problem of every ServingSchedule, one line each on stderr.
import { parseArgs } from "node:util";
import { formatProblem } from "../api/manifests.ts";
import { readManifests } from "./files.ts";
import { visible } from "./visible.ts";
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIO, type Command } from "./io.ts";

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
  async run(argv: string[], io: CliIO): Promise<number> {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {}, strict: true });
    if (positionals.length === 0) throw new UsageError("validate needs at least one file or directory");
    const { schedules, problems, warnings, files: read } = await readManifests(positionals);
    for (const p of problems) io.err(`${visible(formatProblem(p))}\n`);
    for (const w of warnings ?? []) io.err(`${visible(formatProblem(w))}\n`);
    if (problems.length > 0) return EXIT_INVALID;
    if (schedules.length === 0) {
      io.err(`no ServingSchedule found in ${plural(read, "file")}\n`);
      return EXIT_INVALID;
    }
    const files = new Set(schedules.map((s) => s.file)).size;
    io.out(`${plural(schedules.length, "schedule")} valid in ${plural(files, "file")}\n`);
    return EXIT_OK;
  },
};

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
