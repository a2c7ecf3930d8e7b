// `kserve-reclaimer run`: the daemon. Configuration errors are listed and exit 2; the daemon's own
// failures after start are logged as JSON by the daemon itself.
import { runDaemon } from "../daemon/main.ts";
import { ConfigError, DAEMON_FLAGS } from "../daemon/config.ts";
import { KubeConfigError } from "../sources/kube/client.ts";
import { EXIT_USAGE, type Command } from "./io.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run the daemon: watch schedules and InferenceServices, stop and start them",
  usage: `run [--kubeconfig FILE] [--namespaces a,b] [--prometheus-url URL] [--dry-run] [--leader-elect] ...\n\nFlags (each also read from RECLAIMER_<FLAG>, e.g. RECLAIMER_PROMETHEUS_URL):\n${DAEMON_FLAGS.map((f) => `  --${f}`).join("\n")}`,
  async run(argv, io) {
    try {
      return await runDaemon(argv, process.env);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof KubeConfigError) {
        io.err(`kserve-reclaimer run: ${err.message}\n`);
        return EXIT_USAGE;
      }
      throw err;
    }
  },
};
