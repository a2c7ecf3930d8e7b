// Request-rate queries per metric preset, and how a result series maps to an InferenceService.
// Pure: no I/O, no clock. One query per (preset, window[, custom spec]) covers ALL services; the
// daemon never sends one query per service. docs/metrics-presets.md documents every preset.
import type { MetricPreset } from "../../api/servingSchedule.ts";
import { parseDuration } from "../../schedule/index.ts";
import { checkScoped, scopeToNamespace } from "./scope.ts";

/** The fields of the API's CustomMetric that the query needs (defaults already applied by zod). */
export type CustomMetricSpec = {
  query: string;
  namespaceLabel: string;
  serviceLabel: string;
  serviceLabelFormat: string;
};

/** What to ask Prometheus: a preset, the trailing window ("15m", "1h30m") and, for custom, the spec. */
export type TrafficQuerySpec = {
  preset: MetricPreset;
  window: string;
  custom?: CustomMetricSpec | undefined;
  /** The namespace asking (the schedule's); a custom query is confined to it. */
  namespace?: string | undefined;
};

/**
 * Whether schedules may run their own PromQL, which the daemon sends with its own Prometheus
 * credentials. When allowed, every selector is pinned to `namespaceLabel="<schedule namespace>"`.
 */
export type CustomQueryPolicy = { allowed: false } | { allowed: true; namespaceLabel: string };

export const CUSTOM_QUERIES_OFF: CustomQueryPolicy = { allowed: false };

export const CUSTOM_QUERIES_DISABLED = "custom queries are disabled by the cluster admin (kserve-reclaimer run --allow-custom-queries)";

/** A query ready to send, with the mapping of its result series back to "namespace/name". */
export type PreparedQuery = {
  /** Deduplication key: equal for specs that produce the same query and mapping. */
  key: string;
  preset: MetricPreset;
  /** The window in whole seconds, as sent ("900s"). */
  window: string;
  promql: string;
  /** "namespace/name" of the InferenceService a result series belongs to, or undefined if none. */
  serviceOf: (labels: Readonly<Record<string, string>>) => string | undefined;
};

export type PrepareResult =
  | { kind: "ok"; query: PreparedQuery }
  | { kind: "error"; error: string }
  /** A custom query while the cluster admin has not allowed them: not the schedule author's mistake. */
  | { kind: "disabled"; error: string };

type PresetDefinition = {
  /** Metric selector inside rate(), without the range. */
  selector: string;
  namespaceLabel: string;
  serviceLabel: string;
  /** InferenceService name from the service label's value, or undefined for series of no service. */
  nameOf: (value: string) => string | undefined;
};

const identity = (value: string): string | undefined => value;

// Knative names the predictor's Knative Service "<isvc>-predictor". Only predictor series count:
// a transformer or explainer forwards every request to the predictor, so counting them as well
// would count one request twice (and a request that never reaches the predictor does no GPU work).
const PREDICTOR = /^(.+)-predictor$/;
// Istio's destination_service_name is the Kubernetes Service the request was addressed to:
// "<isvc>-predictor" (Raw/Standard mode, and Knative's route service), or in Knative mode a
// revision's services "<isvc>-predictor-00001" and "<isvc>-predictor-00001-private".
const ISTIO_PREDICTOR = /^(.+)-predictor(?:-[0-9]+)?(?:-private)?$/;

export const PRESETS: Readonly<Record<Exclude<MetricPreset, "custom">, PresetDefinition>> = {
  kserve: {
    selector: "request_predict_seconds_count",
    namespaceLabel: "namespace",
    serviceLabel: "model_name",
    nameOf: identity,
  },
  vllm: {
    selector: "vllm:request_success_total",
    namespaceLabel: "namespace",
    serviceLabel: "model_name",
    nameOf: identity,
  },
  knative: {
    selector: 'revision_app_request_count{service_name=~".+-predictor"}',
    namespaceLabel: "namespace_name",
    serviceLabel: "service_name",
    nameOf: (value) => PREDICTOR.exec(value)?.[1],
  },
  istio: {
    selector: 'istio_requests_total{reporter="destination",destination_service_name=~".+-predictor(-[0-9]+)?(-private)?"}',
    namespaceLabel: "destination_service_namespace",
    serviceLabel: "destination_service_name",
    nameOf: (value) => ISTIO_PREDICTOR.exec(value)?.[1],
  },
};

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The window as whole seconds for PromQL ("1h30m" -> "5400s"), or undefined when it is not a positive duration. */
export function promWindow(window: string): string | undefined {
  const ms = parseDuration(window);
  if (!Number.isFinite(ms) || ms < 1000) return undefined;
  return `${Math.floor(ms / 1000)}s`;
}

/** Splits a serviceLabelFormat such as "{name}-predictor" into the text around "{name}". */
export function parseServiceLabelFormat(format: string): { prefix: string; suffix: string } | undefined {
  const at = format.indexOf("{name}");
  if (at < 0 || format.indexOf("{name}", at + 1) >= 0) return undefined;
  return { prefix: format.slice(0, at), suffix: format.slice(at + "{name}".length) };
}

function keyOf(namespace: string | undefined, name: string | undefined): string | undefined {
  if (namespace === undefined || namespace === "" || name === undefined || name === "") return undefined;
  return `${namespace}/${name}`;
}

/**
 * Builds the batched query for a spec. Pure; problems in the spec come back as an error, never thrown.
 * Custom queries are refused unless `policy` allows them, so forgetting to pass it is the safe mistake.
 */
export function prepareQuery(spec: TrafficQuerySpec, policy: CustomQueryPolicy = CUSTOM_QUERIES_OFF): PrepareResult {
  const window = promWindow(spec.window);
  if (window === undefined) return { kind: "error", error: `window ${JSON.stringify(spec.window)} is not a duration of at least 1s` };

  if (spec.preset === "custom") {
    if (!policy.allowed) return { kind: "disabled", error: CUSTOM_QUERIES_DISABLED };
    const custom = spec.custom;
    const namespace = spec.namespace;
    if (namespace === undefined) return { kind: "error", error: "a custom query needs the namespace it is confined to" };
    if (custom === undefined) return { kind: "error", error: "metric custom needs custom.query and custom.serviceLabel" };
    for (const [field, label] of [
      ["namespaceLabel", custom.namespaceLabel],
      ["serviceLabel", custom.serviceLabel],
    ] as const) {
      if (!LABEL_NAME.test(label))
        return { kind: "error", error: `custom.${field} ${JSON.stringify(label)} is not a Prometheus label name` };
    }
    if (custom.namespaceLabel === custom.serviceLabel)
      return { kind: "error", error: "custom.namespaceLabel and custom.serviceLabel must differ" };
    const format = parseServiceLabelFormat(custom.serviceLabelFormat);
    if (format === undefined) {
      return {
        kind: "error",
        error: `custom.serviceLabelFormat ${JSON.stringify(custom.serviceLabelFormat)} must contain "{name}" exactly once`,
      };
    }
    const scoped = scopeToNamespace(custom.query.replaceAll("$window", window), policy.namespaceLabel, namespace);
    if (scoped.kind === "error") return { kind: "error", error: `custom.query ${scoped.error}` };
    const { namespaceLabel, serviceLabel } = custom;
    // Wrapped in sum by: one series per service whatever the user's query keeps or drops. The
    // newlines keep a trailing comment in the user's query from swallowing the closing parenthesis.
    const promql = `sum by (${namespaceLabel}, ${serviceLabel}) (\n${scoped.promql}\n)`;
    const problem = checkScoped(promql, policy.namespaceLabel, namespace);
    if (problem !== undefined) return { kind: "error", error: `custom.query ${problem}` };
    return {
      kind: "ok",
      query: {
        key: JSON.stringify([
          "custom",
          namespace,
          policy.namespaceLabel,
          window,
          custom.query,
          namespaceLabel,
          serviceLabel,
          custom.serviceLabelFormat,
        ]),
        preset: "custom",
        window,
        promql,
        serviceOf: (labels) => {
          // A series naming another namespace (label_replace, or a label the tenant's own pods
          // export) must not stand in for that namespace's services.
          if (labels[namespaceLabel] !== namespace) return undefined;
          const value = labels[serviceLabel];
          if (value === undefined || value.length <= format.prefix.length + format.suffix.length) return undefined;
          if (!value.startsWith(format.prefix) || !value.endsWith(format.suffix)) return undefined;
          return keyOf(labels[namespaceLabel], value.slice(format.prefix.length, value.length - format.suffix.length));
        },
      },
    };
  }

  const preset = PRESETS[spec.preset];
  return {
    kind: "ok",
    query: {
      key: JSON.stringify([spec.preset, window]),
      preset: spec.preset,
      window,
      promql: presetPromQL(spec.preset, window),
      serviceOf: (labels) => {
        const value = labels[preset.serviceLabel];
        return keyOf(labels[preset.namespaceLabel], value === undefined ? undefined : preset.nameOf(value));
      },
    },
  };
}

/** The PromQL of a (non-custom) preset for a window already in PromQL form ("900s"). */
function presetPromQL(preset: Exclude<MetricPreset, "custom">, window: string): string {
  const p = PRESETS[preset];
  return `sum by (${p.namespaceLabel}, ${p.serviceLabel}) (rate(${p.selector}[${window}]))`;
}
