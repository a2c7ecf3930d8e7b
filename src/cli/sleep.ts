// `sleep ns/name`: stops the InferenceService now, recorded as the daemon's own stop (reason Sleep),
// so the daemon starts it again at its schedule's next Running transition.
import { parseArgs } from "node:util";
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect, reporting } from "./cluster.ts";
import { annotateService } from "./annotate.ts";
import { parseTarget, sleepMessage, sleepPatch } from "./inspect.ts";
import { EXIT_OK, UsageError, type CliIO, type Command } from "./io.ts";

export const sleepCommand: Command = {
  name: "sleep",
  summary: "stop an InferenceService now, until its schedule's next Running transition",
  usage: `sleep <namespace>/<name> [-n namespace] [--kubeconfig FILE] [--context NAME]

Sets serving.kserve.io/stop: "true" with a reclaimer.dev/state record of the daemon's own kind
(action stop, reason Sleep, the governing schedule) and removes reclaimer.dev/keep-running-until.
The daemon starts the service again at the schedule's next Running transition (or earlier with
\`wake\`). Without a schedule it stays stopped until \`wake\` or until the annotation is removed.
A service with reclaimer.dev/exclude: "true" (or in ModelMesh mode) is refused: nothing is written, exit 1.

  -n, --namespace  namespace when the argument is only <name> (default: the context's)
${CONNECTION_USAGE}`,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { namespace: { type: "string", short: "n" }, ...CONNECTION_OPTIONS },
    });
    if (positionals.length !== 1) throw new UsageError("sleep takes exactly one InferenceService: sleep <namespace>/<name>");
    const target = parseTarget(positionals[0], values.namespace ?? "", "sleep");
    return reporting("sleep", io, async () => {
      const now = io.now();
      const e = await annotateService(connect(values), target, now, (ev) => sleepPatch(ev, now));
      io.out(`${sleepMessage(e, now).join("\n")}\n`);
      return EXIT_OK;
    });
  },
};
