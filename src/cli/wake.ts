// `wake ns/name [--for 2h]`: sets reclaimer.dev/keep-running-until on the InferenceService; the daemon
// starts it (if stopped) and keeps it up until then. The clock is read here and only here.
import { parseArgs } from "node:util";
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect, reporting } from "./cluster.ts";
import { annotateService } from "./annotate.ts";
import { parseFor, parseTarget, scheduleInactiveNote, wakeMessage, wakePatch } from "./inspect.ts";
import { EXIT_OK, UsageError, type CliIO, type Command } from "./io.ts";

export const DEFAULT_WAKE_FOR = "2h";

export const wakeCommand: Command = {
  name: "wake",
  summary: "keep an InferenceService running (start it if stopped) for a while",
  usage: `wake <namespace>/<name> [--for 2h] [-n namespace] [--kubeconfig FILE] [--context NAME]

Sets reclaimer.dev/keep-running-until to now + --for on the InferenceService. The daemon starts it
if it is stopped and does not stop it (schedule, idle) before then; afterwards its schedule applies
again. A service no ServingSchedule selects is started directly (serving.kserve.io/stop: "false").
A service with reclaimer.dev/exclude: "true" (or in ModelMesh mode) is refused: nothing is written, exit 1.

  --for            how long: 2h (default), 90m, 1h30m; from 1m to 8784h
  -n, --namespace  namespace when the argument is only <name> (default: the context's)
${CONNECTION_USAGE}`,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { for: { type: "string", default: DEFAULT_WAKE_FOR }, namespace: { type: "string", short: "n" }, ...CONNECTION_OPTIONS },
    });
    if (positionals.length !== 1) throw new UsageError("wake takes exactly one InferenceService: wake <namespace>/<name>");
    const forMs = parseFor(values.for);
    const target = parseTarget(positionals[0], values.namespace ?? "", "wake");
    return reporting("wake", io, async () => {
      const now = io.now();
      const e = await annotateService(connect(values), target, now, (ev) => wakePatch(ev, now, forMs));
      io.out(`${wakeMessage(e, now, forMs).join("\n")}\n`);
      const note = scheduleInactiveNote(e);
      if (note) io.err(`warning: ${note}\n`);
      return EXIT_OK;
    });
  },
};
