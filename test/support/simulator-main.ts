// Runs the traffic simulator as a process: node test/support/simulator-main.ts --port=N
// (kubeconfig from $KUBECONFIG). Stops on SIGTERM/SIGINT.
import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
const port = Number(values.port);
const kubeconfig = process.env["KUBECONFIG"];
if (!Number.isInteger(port) || port < 0 || !kubeconfig) {
  console.error("usage: KUBECONFIG=... node test/support/simulator-main.ts --port=N");
  process.exit(2);
}
const sim = await startSimulator(kubeconfig, port);
console.log(`simulator listening on ${sim.url}`);
const shutdown = () => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
