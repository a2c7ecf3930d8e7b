// `status [ns/name] [-n ns | -A] [--output table|json]`: what each service is doing and why, from the
// cluster. Without a service: every ServingSchedule with the per-service status the daemon wrote and
// the live annotations. With one: the service in detail, with what the daemon would decide now,
// computed here with the daemon's own decide(). The clock is read here and only here.
import type { Traffic } from "../decide/decide.ts";
import type { ValidSchedule } from "../decide/schedules.ts";
import { createPrometheusClient } from "../sources/prometheus/client.ts";
import { readTraffic } from "../sources/prometheus/traffic.ts";
import { parseCommandLine, parseTarget } from "./arguments.ts";
import { CLUSTER_OPTIONS, connect, readScheduleScope, reporting, warnOnce } from "./cluster.ts";
import { evaluate } from "./decision.ts";
import type { FlagTable } from "../config/flags.ts";
import { EXIT_OK, UsageError, type CliIO, type Command } from "./io.ts";
import { overview, serviceDetailJson } from "./statusJson.ts";
import { renderOverview, renderServiceDetail } from "./statusText.ts";

const STATUS_FLAGS = {
  ...CLUSTER_OPTIONS,
  "all-namespaces": { type: "boolean", short: "A", default: false, description: "every namespace (list view)" },
  output: { type: "string", short: "o", default: "table", value: "FORMAT", description: "table or json" },
  "prometheus-url": {
    type: "string",
    value: "URL",
    description: "read the service's request rate so the idle rule is evaluated too (without it, it is not evaluated)",
  },
} as const satisfies FlagTable;

export const statusCommand: Command = {
  name: "status",
  summary: "show what each InferenceService is doing and why, from the cluster",
  usage: `status [<namespace>/<name>] [-n namespace | -A] [--output table|json] [--prometheus-url URL]

Without an argument: the ServingSchedules of the namespace (-n, default the context's; -A all)
and the ClusterServingSchedules reaching it (shown as "<name> (cluster)") with the per-service
status the daemon wrote (state, reason, since, next transition, GPUs, confirmed) and the live
annotations of each InferenceService, then the services no schedule selects.
With <namespace>/<name> (or <name> and -n): that InferenceService in detail: governing schedule,
annotations, Ready/Stopped conditions, GPUs, what the daemon would decide now (computed locally
with the daemon's rules) and the schedule's next 3 transitions.`,
  flags: STATUS_FLAGS,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, STATUS_FLAGS);
    const output = values.output;
    if (output !== "table" && output !== "json") throw new UsageError(`--output must be table or json, not "${output}"`);
    if (positionals.length > 1) throw new UsageError("status takes at most one InferenceService");
    if (values["all-namespaces"] && values.namespace !== undefined) throw new UsageError("give -n or -A, not both");
    const target = positionals[0] === undefined ? undefined : parseTarget(positionals[0], values.namespace ?? "", "status");
    if (target && values["all-namespaces"]) throw new UsageError("-A lists every namespace; it does not go with one InferenceService");
    const prometheusUrl = values["prometheus-url"];
    if (prometheusUrl !== undefined && !/^https?:\/\/\S+$/.test(prometheusUrl))
      throw new UsageError(`--prometheus-url must be an http(s) URL, not "${prometheusUrl}"`);

    return reporting("status", io, async () => {
      const client = connect(values);
      if (target) {
        const namespace = target.namespace || client.defaultNamespace;
        const isvc = await client.getInferenceService(namespace, target.name);
        const { entries, namespaceLabels: labels } = await readScheduleScope(client, namespace, warnOnce(io));
        const namespaceLabels = labels.get(namespace);
        let traffic: Traffic | undefined;
        let trafficNote: string | undefined = "no --prometheus-url given";
        const first = evaluate(isvc, entries, io.now(), { namespaceLabels });
        const idle = first.governing?.spec.idle;
        if (idle && prometheusUrl !== undefined) {
          traffic = await trafficOf(prometheusUrl, first.key, first.governing as ValidSchedule);
          trafficNote = undefined;
        }
        const now = io.now();
        const e = evaluate(isvc, entries, now, { traffic, namespaceLabels });
        io.out(
          output === "json"
            ? `${JSON.stringify(serviceDetailJson(e, isvc, trafficNote))}\n`
            : renderServiceDetail(e, isvc, now, trafficNote),
        );
        return EXIT_OK;
      }
      const namespace = values["all-namespaces"] ? undefined : (values.namespace ?? client.defaultNamespace);
      const [{ entries, namespaceLabels }, services] = await Promise.all([
        readScheduleScope(client, namespace, warnOnce(io)),
        client.listInferenceServices(namespace),
      ]);
      const now = io.now();
      const o = overview(entries, services, now, { namespace, namespaceLabels });
      io.out(output === "json" ? `${JSON.stringify(o)}\n` : renderOverview(o, entries, now));
      return EXIT_OK;
    });
  },
};

async function trafficOf(baseUrl: string, key: string, entry: ValidSchedule): Promise<Traffic> {
  const idle = entry.spec.idle;
  if (!idle) return { kind: "unknown", why: "no idle policy" };
  const prometheus = createPrometheusClient({ baseUrl });
  try {
    const reading = await readTraffic(prometheus, [{ service: key, preset: idle.metric, window: idle.after, custom: idle.custom }]);
    return reading.byService.get(key) ?? { kind: "unknown", why: "no reading" };
  } finally {
    prometheus.close();
  }
}
