// Request rates per InferenceService for one idle tick: one query per distinct (preset, window,
// custom spec), all sent concurrently, every service answered from its query's result.
//
// ABSENT IS UNKNOWN, NEVER ZERO. A service is "known" only when its query succeeded AND a series
// for it came back with a finite value. A failed query, a missing series (never served a request
// since its pods started, not scraped, renamed labels, stopped) or a NaN/Inf value is "unknown",
// with the reason, and the daemon applies whenMetricsUnavailable to it.
import type { MetricPreset } from "../../api/servingSchedule.ts";
import type { PrometheusClient } from "./client.ts";
import { CUSTOM_QUERIES_OFF, prepareQuery, type CustomMetricSpec, type CustomQueryPolicy, type PreparedQuery } from "./presets.ts";

export type TrafficRequest = {
  /** "namespace/name" of the InferenceService. */
  service: string;
  preset: MetricPreset;
  /** The idle policy's `after`, e.g. "15m". */
  window: string;
  custom?: CustomMetricSpec | undefined;
};

/** A service's request rate over the window, or why it is not known (never zero for unknown). */
export type Traffic = { kind: "known"; rps: number } | { kind: "unknown"; why: string };

/** What happened to one query: for metrics (latency, errors by preset) and the MetricsAvailable condition. */
export type QueryOutcome = {
  preset: MetricPreset;
  window: string;
  promql: string | undefined;
  ok: boolean;
  error?: string;
  latencySeconds: number;
  /** Series returned (including ones that map to no service). */
  series: number;
  /** Services answered by this query. */
  services: number;
  /**
   * Set for custom queries: the one namespace whose services asked. Their errors can quote that
   * namespace's series, so they belong in that namespace's Events and status only.
   */
  namespace?: string;
};

export type TrafficReading = {
  /** One entry per requested service. A service requested twice keeps its last request. */
  byService: Map<string, Traffic>;
  queries: QueryOutcome[];
};

type Group = { prepared: PreparedQuery; services: string[]; namespace: string | undefined };

function namespaceOf(service: string): string {
  return service.slice(0, service.indexOf("/"));
}

/**
 * Reads the traffic of every requested service. Never rejects: query problems become
 * "unknown" results and failed QueryOutcomes. Custom queries run only when `policy` allows them.
 */
export async function readTraffic(
  client: PrometheusClient,
  requests: readonly TrafficRequest[],
  policy: CustomQueryPolicy = CUSTOM_QUERIES_OFF,
): Promise<TrafficReading> {
  const byService = new Map<string, Traffic>();
  const queries: QueryOutcome[] = [];
  const groups = new Map<string, Group>();
  const latest = new Map<string, TrafficRequest>();
  for (const request of requests) latest.set(request.service, request);

  for (const request of latest.values()) {
    const namespace = namespaceOf(request.service);
    const prepared = prepareQuery({ ...request, namespace }, policy);
    if (prepared.kind !== "ok") {
      byService.set(request.service, {
        kind: "unknown",
        why: prepared.kind === "disabled" ? prepared.error : `invalid metric spec: ${prepared.error}`,
      });
      queries.push({
        preset: request.preset,
        window: request.window,
        promql: undefined,
        ok: false,
        error: prepared.error,
        latencySeconds: 0,
        series: 0,
        services: 1,
        ...(request.preset === "custom" ? { namespace } : {}),
      });
      continue;
    }
    const group = groups.get(prepared.query.key);
    if (group === undefined)
      groups.set(prepared.query.key, {
        prepared: prepared.query,
        services: [request.service],
        namespace: request.preset === "custom" ? namespace : undefined,
      });
    else group.services.push(request.service);
  }

  await Promise.all(
    [...groups.values()].map(async ({ prepared, services, namespace }) => {
      const scope = namespace === undefined ? {} : { namespace };
      const result = await client.query(prepared.promql);
      if (result.kind === "error") {
        for (const service of services) {
          byService.set(service, { kind: "unknown", why: `${prepared.preset} query failed: ${result.error}` });
        }
        queries.push({
          preset: prepared.preset,
          window: prepared.window,
          promql: prepared.promql,
          ok: false,
          error: result.error,
          latencySeconds: result.latencySeconds,
          series: 0,
          services: services.length,
          ...scope,
        });
        return;
      }
      const rates = ratesByService(prepared, result.samples);
      for (const service of services) byService.set(service, classify(prepared, rates.get(service)));
      queries.push({
        preset: prepared.preset,
        window: prepared.window,
        promql: prepared.promql,
        ok: true,
        latencySeconds: result.latencySeconds,
        series: result.samples.length,
        services: services.length,
        ...scope,
      });
    }),
  );
  return { byService, queries };
}

/**
 * Sums the series that map to one service (several do in the istio preset, e.g. a route's and a
 * revision's Service). A non-finite value poisons the sum into NaN, which classify() calls unknown.
 */
function ratesByService(
  prepared: PreparedQuery,
  samples: readonly { labels: Record<string, string>; value: number }[],
): Map<string, number> {
  const rates = new Map<string, number>();
  for (const sample of samples) {
    const service = prepared.serviceOf(sample.labels);
    if (service === undefined) continue;
    const value = Number.isFinite(sample.value) && sample.value >= 0 ? sample.value : Number.NaN;
    rates.set(service, (rates.get(service) ?? 0) + value);
  }
  return rates;
}

function classify(prepared: PreparedQuery, rate: number | undefined): Traffic {
  if (rate === undefined) {
    return {
      kind: "unknown",
      why: `no ${prepared.preset} series over ${prepared.window} (no request since its pods started, not scraped, or labels that do not map to it)`,
    };
  }
  if (Number.isNaN(rate)) return { kind: "unknown", why: `${prepared.preset} rate is not a finite non-negative number` };
  return { kind: "known", rps: rate };
}
