// `kserve-reclaimer run`: the daemon. Configuration errors are listed and exit 2; a metrics address
// it cannot listen on exits 1 (the flag is fine, the host is not); the daemon's own failures after
// start are logged as JSON by the daemon itself.
import { runDaemon } from "../daemon/run.ts";
import { ConfigError, FLAGS } from "../daemon/config.ts";
import { KubeConfigError } from "../sources/kube/client.ts";
import { ListenError } from "../report/http.ts";
import { EXIT_USAGE, type Command } from "./io.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run the daemon: watch schedules and InferenceServices, stop and start them",
  usage: `run [flags]

Watches ServingSchedules and InferenceServices and stops and starts them. Every flag is also read
from its RECLAIMER_* environment variable (flags win); booleans take true/false/1/0 there, and
--flag=false on the command line. Every configuration problem is listed (exit 2) before anything starts.`,
  flags: FLAGS,
  env: true,
  async run(argv, io) {
    try {
      return await runDaemon(argv, process.env);
    } catch (err) {
      // One line per problem, each complete on its own: log collectors keep lines, not messages.
      if (err instanceof ConfigError) {
        io.err(err.problems.map((p) => `kserve-reclaimer run: invalid configuration: ${oneLine(p)}\n`).join(""));
        return EXIT_USAGE;
      }
      if (err instanceof KubeConfigError) {
        io.err(`kserve-reclaimer run: ${oneLine(err.message)}\n`);
        return EXIT_USAGE;
      }
      if (err instanceof ListenError) {
        io.err(`kserve-reclaimer run: ${err.message} (${err.flag})\n`);
        return 1;
      }
      throw err;
    }
  },
};

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
