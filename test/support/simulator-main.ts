// Runs the traffic simulator as a process: node test/support/simulator-main.ts --port=N
// (kubeconfig from $KUBECONFIG). With --ready ns/name (repeatable) it needs no cluster: those
// services are Ready, which is how the waker's benchmark runs it as a fake model server.
// --chunk-delay-ms sets the pause between streamed chunks. Stops on SIGTERM/SIGINT.
import { parseArgs } from "node:util";
import { StaticReadiness, startSimulator, TrafficSimulator } from "./simulator.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    ready: { type: "string", multiple: true },
    "chunk-delay-ms": { type: "string", default: "20" },
  },
});
const port = Number(values.port);
const chunkDelayMs = Number(values["chunk-delay-ms"]);
const kubeconfig = process.env["KUBECONFIG"];
const ready = values.ready ?? [];
if (
  !Number.isInteger(port) ||
  port < 0 ||
  port > 65535 ||
  !(chunkDelayMs >= 0 && chunkDelayMs <= 10_000) ||
  (!kubeconfig && ready.length === 0)
) {
  console.error(
    "usage: KUBECONFIG=... node test/support/simulator-main.ts --port=N | node test/support/simulator-main.ts --ready ns/name [--chunk-delay-ms=MS]",
  );
  process.exit(2);
}
let sim: { url: string; close(): Promise<void> };
if (ready.length > 0) {
  const readiness = new StaticReadiness();
  for (const target of ready) readiness.set(target, true);
  const server = new TrafficSimulator(readiness, { chunkDelayMs });
  sim = { url: await server.listen(port), close: () => server.close() };
} else sim = await startSimulator(kubeconfig as string, port);
console.log(`simulator listening on ${sim.url}`);
const shutdown = () => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
