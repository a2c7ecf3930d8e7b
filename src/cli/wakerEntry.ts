// `kserve-reclaimer waker` as the published bin runs it (entry.ts): only the waker's command is
// loaded. The waker is a long-running Deployment of its own and never uses the Kubernetes client or
// the daemon, which every other command loads (about 60 MiB of RSS).
import { runCommands } from "./dispatch.ts";
import { wakerCommand } from "./waker.ts";

export function runCli(argv: readonly string[] = process.argv.slice(2)): void {
  runCommands(argv, [wakerCommand]);
}
