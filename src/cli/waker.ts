// `kserve-reclaimer waker`: the wake-on-request proxy. Configuration errors are listed and exit 2;
// an address it cannot listen on exits 1 (the flag is fine, the host is not).
import { ListenError } from "../report/http.ts";
import { WAKER_FLAGS, WakerConfigError } from "../wake/config.ts";
import { runWaker } from "../wake/main.ts";
import { EXIT_USAGE, type Command } from "./io.ts";

export const wakerCommand: Command = {
  name: "waker",
  summary: "hold requests for stopped services, have the daemon start them, forward when Ready",
  usage: `waker --daemon-url URL [flags]

Receives the requests the wake routes send for InferenceServices the daemon stopped, asks the daemon
(POST /wake/v1/requests, authenticated with --token-file) to start them, holds the requests while
they start and forwards them, streaming, once the daemon says Ready. Needs no Kubernetes API access.
Every flag is also read from its RECLAIMER_* environment variable (flags win). Every configuration
problem is listed (exit 2) before anything starts.`,
  flags: WAKER_FLAGS,
  env: true,
  async run(argv, io) {
    try {
      return await runWaker(argv, process.env);
    } catch (err) {
      if (err instanceof WakerConfigError) {
        io.err(err.problems.map((p) => `kserve-reclaimer waker: invalid configuration: ${p.replace(/\s*\n\s*/g, " ")}\n`).join(""));
        return EXIT_USAGE;
      }
      if (err instanceof ListenError) {
        io.err(`kserve-reclaimer waker: ${err.message} (${err.flag})\n`);
        return 1;
      }
      throw err;
    }
  },
};
