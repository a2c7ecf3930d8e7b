// `wake ns/name [--for 2h]`: sets reclaimer.dev/keep-running-until on the InferenceService; the daemon
// starts it (if stopped) and keeps it up until then. The clock is read here and only here.
import { isStopSet, KEEP_RUNNING_UNTIL, STOP } from "../api/annotations.ts";
import { nextTransition } from "../schedule/index.ts";
import { annotateService } from "./annotate.ts";
import { oneTarget, parseCommandLine, parseFor } from "./arguments.ts";
import { CLUSTER_OPTIONS, connect, reporting, warnOnce } from "./cluster.ts";
import { type Evaluation, scheduleLabel } from "./decision.ts";
import type { FlagTable } from "../config/flags.ts";
import { EXIT_OK, type CliIO, type Command } from "./io.ts";
import { scheduleInactiveNote } from "./statusText.ts";
import { rfc3339, when } from "./times.ts";
import { visible } from "../report/visible.ts";

const WAKE_FLAGS = {
  for: { type: "string", default: "2h", value: "DURATION", description: "how long to keep it running: 90m, 1h30m, ... from 1m to 8784h" },
  ...CLUSTER_OPTIONS,
  namespace: { ...CLUSTER_OPTIONS.namespace, description: "namespace when the argument is only <name>" },
} as const satisfies FlagTable;

export const wakeCommand: Command = {
  name: "wake",
  summary: "keep an InferenceService running (start it if stopped) for a while",
  usage: `wake <namespace>/<name> [--for 2h] [-n namespace] [--kubeconfig FILE] [--context NAME]

Sets reclaimer.dev/keep-running-until to now + --for on the InferenceService. The daemon starts it
if it is stopped and does not stop it (schedule, idle) before then; afterwards its schedule applies
again. A service no ServingSchedule selects is started directly (serving.kserve.io/stop: "false").
A service with reclaimer.dev/exclude: "true" (or in ModelMesh mode) is refused: nothing is written, exit 1.`,
  flags: WAKE_FLAGS,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, WAKE_FLAGS);
    const target = oneTarget(positionals, values.namespace, "wake");
    const forMs = parseFor(values.for);
    return reporting("wake", io, async () => {
      const now = io.now();
      const e = await annotateService(connect(values), target, now, (ev) => wakePatch(ev, now, forMs), warnOnce(io));
      io.out(`${wakeMessage(e, now, forMs).join("\n")}\n`);
      const note = scheduleInactiveNote(e);
      if (note) io.err(`warning: ${note}\n`);
      return EXIT_OK;
    });
  },
};

/**
 * keep-running-until now+for. The daemon starts it (rule 2). A service no schedule selects has
 * no daemon to start it, so wake starts it itself (stop "false").
 */
export function wakePatch(e: Evaluation, now: number, forMs: number): Record<string, string | null> {
  const patch: Record<string, string | null> = { [KEEP_RUNNING_UNTIL]: rfc3339(now + forMs) };
  if (!e.governing && isStopSet(e.facts.annotations)) patch[STOP] = "false";
  return patch;
}

export function wakeMessage(e: Evaluation, now: number, forMs: number): string[] {
  const until = now + forMs;
  const stopped = isStopSet(e.facts.annotations);
  const lines: string[] = [];
  if (e.governing) {
    const z = e.governing.compiled;
    lines.push(`${e.key}: ${KEEP_RUNNING_UNTIL} set to ${when(until, now, z)}`);
    lines.push(
      stopped
        ? `  it is stopped now: the daemon starts it and keeps it up until then`
        : `  it is running: the daemon will not stop it before then`,
    );
    const after = nextTransition(z, until);
    lines.push(
      `  after that ${scheduleLabel(e.governing.key)} applies again${after ? ` (next transition: ${after.state} at ${when(after.at, now, z)})` : ""}`,
    );
  } else {
    lines.push(`${e.key}: ${KEEP_RUNNING_UNTIL} set to ${when(until, now)}`);
    lines.push(
      stopped
        ? `  no ServingSchedule selects it: started it directly (${STOP}: "false"); nothing will stop it at that time`
        : `  no ServingSchedule selects it: the daemon does not manage it; the annotation has no effect until a schedule selects it`,
    );
  }
  return lines.map(visible);
}
