// `sleep ns/name`: stops the InferenceService now, recorded as the daemon's own stop (reason Sleep),
// so the daemon starts it again at its schedule's next Running transition.
import { KEEP_RUNNING_UNTIL, STATE, STOP, writeState } from "../api/annotations.ts";
import { annotateService } from "./annotate.ts";
import { oneTarget, parseCommandLine } from "./arguments.ts";
import { CLUSTER_OPTIONS, connect, reporting, warnOnce } from "./cluster.ts";
import { type Evaluation, nextRunning, scheduleLabel } from "./decision.ts";
import type { FlagTable } from "../config/flags.ts";
import { EXIT_OK, type CliIO, type Command } from "./io.ts";
import { when } from "./times.ts";
import { visible } from "../report/visible.ts";

const SLEEP_FLAGS = {
  ...CLUSTER_OPTIONS,
  namespace: { ...CLUSTER_OPTIONS.namespace, description: "namespace when the argument is only <name>" },
} as const satisfies FlagTable;

export const sleepCommand: Command = {
  name: "sleep",
  summary: "stop an InferenceService now, until its schedule's next Running transition",
  usage: `sleep <namespace>/<name> [-n namespace] [--kubeconfig FILE] [--context NAME]

Sets serving.kserve.io/stop: "true" with a reclaimer.dev/state record of the daemon's own kind
(action stop, reason Sleep, the governing schedule) and removes reclaimer.dev/keep-running-until.
The daemon starts the service again at the schedule's next Running transition (or earlier with
\`wake\`). Without a schedule it stays stopped until \`wake\` or until the annotation is removed.
A service with reclaimer.dev/exclude: "true" (or in ModelMesh mode) is refused: nothing is written, exit 1.`,
  flags: SLEEP_FLAGS,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, SLEEP_FLAGS);
    const target = oneTarget(positionals, values.namespace, "sleep");
    return reporting("sleep", io, async () => {
      const now = io.now();
      const e = await annotateService(connect(values), target, now, (ev) => sleepPatch(ev, now), warnOnce(io));
      io.out(`${sleepMessage(e, now).join("\n")}\n`);
      return EXIT_OK;
    });
  },
};

/**
 * Recorded as the daemon's own stop (reason Sleep, the governing schedule), so the daemon starts it
 * again at the schedule's next Running transition; keep-running-until is removed, or it would start
 * the service again at once.
 */
export function sleepPatch(e: Evaluation, now: number): Record<string, string | null> {
  return {
    [STOP]: "true",
    [STATE]: writeState({ v: 1, action: "stop", reason: "Sleep", schedule: e.governing?.key ?? "", at: new Date(now).toISOString() }),
    [KEEP_RUNNING_UNTIL]: null,
  };
}

export function sleepMessage(e: Evaluation, now: number): string[] {
  const lines = [`${e.key}: stopped (${STOP}: "true", recorded as the daemon's stop, reason Sleep)`];
  if (!e.governing) {
    lines.push("  no ServingSchedule selects it: it stays stopped until someone runs `wake` or removes the annotation");
    return lines.map(visible);
  }
  const next = nextRunning(e.governing.compiled, now);
  if (next)
    lines.push(
      `  ${scheduleLabel(e.governing.key)} starts it again at its next Running transition: ${when(next.at, now, e.governing.compiled)}`,
    );
  else
    lines.push(
      `  ${scheduleLabel(e.governing.key)} has no Running transition ahead: it stays stopped until someone runs \`wake\` or removes the annotation`,
    );
  if (e.governing.spec.suspend)
    lines.push(`  note: ${scheduleLabel(e.governing.key)} is suspended: the daemon starts nothing until it is resumed`);
  else if (e.governing.spec.dryRun)
    lines.push(`  note: ${scheduleLabel(e.governing.key)} is in dry-run mode: the daemon starts nothing while it is`);
  return lines.map(visible);
}
