// The ceiling of the peers benchmark (test/bench/peers.bench.ts), in its own process so that its
// CPU and memory can be read from /proc like a controller's: a bare keep-alive HTTPS client that
// lists the InferenceServices before the boundary, opens its connections, sleeps until it, then
// sends one JSON merge patch per service setting serving.kserve.io/stop, 32 in flight (the
// daemon's default concurrency).
// No cache, no watch, no decision: what this apiserver accepts from a client that does nothing else.
//
//   node test/bench/bare-patcher.ts KUBECONFIG BOUNDARY_EPOCH_MS [CONCURRENCY]
// Prints one JSON line on stdout: { listed, patched, startedAt, finishedAt }, then idles until
// SIGTERM, so that the rest window and /proc (peak RSS, CPU) cover it like the controllers.
import { Api, parallel, sleepMs } from "./api.ts";

const ISVC_PATH = "/apis/serving.kserve.io/v1beta1";
const STOP = "serving.kserve.io/stop";

const [kubeconfig, boundaryArg, concurrencyArg] = process.argv.slice(2);
if (!kubeconfig || !boundaryArg) {
  console.error("usage: bare-patcher.ts KUBECONFIG BOUNDARY_EPOCH_MS [CONCURRENCY]");
  process.exit(2);
}
const boundary = Number(boundaryArg);
const concurrency = Number(concurrencyArg ?? 32);
const api = new Api(kubeconfig, concurrency);
const keys: string[] = [];
let cont = "";
do {
  const page = (await api.must(
    "GET",
    `${ISVC_PATH}/inferenceservices?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`,
  )) as {
    metadata: { continue?: string };
    items: { metadata: { namespace: string; name: string } }[];
  };
  for (const i of page.items) keys.push(`${i.metadata.namespace}/${i.metadata.name}`);
  cont = page.metadata.continue ?? "";
} while (cont);
// Open the connections before the boundary (a warm client, like a controller's): 8 s ahead (before
// the benchmark's flip window opens at -5 s), as many cheap GETs in flight as patches will be, so
// the agent keeps that many sockets alive.
await sleepMs(boundary - 8_000 - Date.now());
await Promise.all(Array.from({ length: concurrency }, () => api.must("GET", `${ISVC_PATH}/inferenceservices?limit=1`)));
await sleepMs(boundary - Date.now());
const startedAt = Date.now();
await parallel(keys, concurrency, async (k) => {
  const [ns, name] = k.split("/");
  await api.must(
    "PATCH",
    `${ISVC_PATH}/namespaces/${ns}/inferenceservices/${name}`,
    { metadata: { annotations: { [STOP]: "true" } } },
    "application/merge-patch+json",
  );
});
console.log(JSON.stringify({ listed: keys.length, patched: keys.length, startedAt, finishedAt: Date.now() }));
api.close();
const idle = setInterval(() => undefined, 3_600_000);
process.on("SIGTERM", () => {
  clearInterval(idle);
  process.exit(0);
});
