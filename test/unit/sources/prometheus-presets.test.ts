import { test } from "node:test";
import assert from "node:assert/strict";
import {
  prepareQuery,
  promWindow,
  parseServiceLabelFormat,
  type TrafficQuerySpec,
  type PreparedQuery,
  type CustomQueryPolicy,
} from "../../../src/sources/prometheus/presets.ts";

const ALLOWED: CustomQueryPolicy = { allowed: true, namespaceLabel: "namespace" };

function prepared(spec: TrafficQuerySpec): PreparedQuery {
  const result = prepareQuery({ namespace: "a", ...spec }, ALLOWED);
  assert.equal(result.kind, "ok", result.kind !== "ok" ? result.error : "");
  if (result.kind !== "ok") throw new Error("unreachable");
  return result.query;
}

test("promWindow turns API durations into whole seconds", () => {
  const table: [string, string | undefined][] = [
    ["15m", "900s"],
    ["1h30m", "5400s"],
    ["90s", "90s"],
    ["1s", "1s"],
    ["0s", undefined],
    ["", undefined],
    ["5x", undefined],
    ["15m]) or vector(1", undefined],
  ];
  for (const [input, expected] of table) assert.equal(promWindow(input), expected, input);
});

test("each preset is one batched sum-by query over the window", () => {
  const table: [TrafficQuerySpec["preset"], string][] = [
    ["kserve", "sum by (namespace, model_name) (rate(request_predict_seconds_count[900s]))"],
    ["vllm", "sum by (namespace, model_name) (rate(vllm:request_success_total[900s]))"],
    ["knative", 'sum by (namespace_name, service_name) (rate(revision_app_request_count{service_name=~".+-predictor"}[900s]))'],
    [
      "istio",
      'sum by (destination_service_namespace, destination_service_name) (rate(istio_requests_total{reporter="destination",destination_service_name=~".+-predictor(-[0-9]+)?(-private)?"}[900s]))',
    ],
  ];
  for (const [preset, promql] of table) assert.equal(prepared({ preset, window: "15m" }).promql, promql, preset);
});

test("series labels map to namespace/name per preset", () => {
  const table: [TrafficQuerySpec["preset"], Record<string, string>, string | undefined][] = [
    ["kserve", { namespace: "ml", model_name: "llama" }, "ml/llama"],
    ["kserve", { model_name: "llama" }, undefined], // no namespace label: scrape config must add it
    ["kserve", { namespace: "ml", model_name: "" }, undefined],
    ["vllm", { namespace: "ml", model_name: "mistral" }, "ml/mistral"],
    ["knative", { namespace_name: "ml", service_name: "llama-predictor" }, "ml/llama"],
    ["knative", { namespace_name: "ml", service_name: "my-predictor-predictor" }, "ml/my-predictor"],
    ["knative", { namespace_name: "ml", service_name: "llama-transformer" }, undefined],
    ["knative", { namespace_name: "ml", service_name: "-predictor" }, undefined],
    ["knative", { namespace: "ml", service_name: "llama-predictor" }, undefined],
    ["istio", { destination_service_namespace: "ml", destination_service_name: "llama-predictor" }, "ml/llama"],
    ["istio", { destination_service_namespace: "ml", destination_service_name: "llama-predictor-00001" }, "ml/llama"],
    ["istio", { destination_service_namespace: "ml", destination_service_name: "llama-predictor-00002-private" }, "ml/llama"],
    ["istio", { destination_service_namespace: "ml", destination_service_name: "llama" }, undefined],
    ["istio", { destination_service_namespace: "ml", destination_service_name: "llama-explainer" }, undefined],
  ];
  for (const [preset, labels, expected] of table) {
    assert.equal(prepared({ preset, window: "5m" }).serviceOf(labels), expected, `${preset} ${JSON.stringify(labels)}`);
  }
});

test("custom: $window substituted, confined to the namespace, wrapped in sum by, label format mapped", () => {
  const q = prepared({
    preset: "custom",
    window: "10m",
    custom: {
      query: 'rate(my_requests_total{code!~"5.."}[$window]) + 0*rate(x[$window])',
      namespaceLabel: "ns",
      serviceLabel: "app",
      serviceLabelFormat: "{name}-predictor",
    },
  });
  assert.equal(
    q.promql,
    'sum by (ns, app) (\nrate(my_requests_total{code!~"5..", namespace="a"}[600s]) + 0*rate(x{namespace="a"}[600s])\n)',
  );
  assert.equal(q.serviceOf({ ns: "a", app: "llama-predictor" }), "a/llama");
  assert.equal(q.serviceOf({ ns: "a", app: "llama" }), undefined);
  assert.equal(q.serviceOf({ ns: "a", app: "-predictor" }), undefined);
  assert.equal(q.serviceOf({ app: "llama-predictor" }), undefined);

  const prefixed = prepared({
    preset: "custom",
    window: "1m",
    custom: { query: "q", namespaceLabel: "namespace", serviceLabel: "svc", serviceLabelFormat: "isvc-{name}" },
  });
  assert.equal(prefixed.serviceOf({ namespace: "a", svc: "isvc-x" }), "a/x");
  assert.equal(prefixed.serviceOf({ namespace: "a", svc: "x" }), undefined);
  const plain = prepared({
    preset: "custom",
    window: "1m",
    custom: { query: "q", namespaceLabel: "namespace", serviceLabel: "svc", serviceLabelFormat: "{name}" },
  });
  assert.equal(plain.serviceOf({ namespace: "a", svc: "x" }), "a/x");
});

test("invalid specs are errors, not exceptions and not injected PromQL", () => {
  const custom = { query: "q", namespaceLabel: "namespace", serviceLabel: "svc", serviceLabelFormat: "{name}" };
  const bad: TrafficQuerySpec[] = [
    { preset: "kserve", window: "soon" },
    { preset: "custom", window: "5m" },
    { preset: "custom", window: "5m", custom: { ...custom, serviceLabel: "svc) or (up" } },
    { preset: "custom", window: "5m", custom: { ...custom, namespaceLabel: "1ns" } },
    { preset: "custom", window: "5m", custom: { ...custom, serviceLabel: "namespace" } },
    { preset: "custom", window: "5m", custom: { ...custom, serviceLabelFormat: "predictor" } },
    { preset: "custom", window: "5m", custom: { ...custom, serviceLabelFormat: "{name}-{name}" } },
  ];
  for (const spec of bad) assert.equal(prepareQuery({ namespace: "a", ...spec }, ALLOWED).kind, "error", JSON.stringify(spec));
});

test("dedup keys: same preset and window share a query; equivalent windows too; custom specs differ", () => {
  const key = (spec: TrafficQuerySpec) => prepared(spec).key;
  assert.equal(key({ preset: "kserve", window: "15m" }), key({ preset: "kserve", window: "900s" }));
  assert.notEqual(key({ preset: "kserve", window: "15m" }), key({ preset: "kserve", window: "10m" }));
  assert.notEqual(key({ preset: "kserve", window: "15m" }), key({ preset: "vllm", window: "15m" }));
  const custom = { query: "q[$window]", namespaceLabel: "namespace", serviceLabel: "svc", serviceLabelFormat: "{name}" };
  assert.equal(key({ preset: "custom", window: "5m", custom }), key({ preset: "custom", window: "5m", custom: { ...custom } }));
  assert.notEqual(
    key({ preset: "custom", window: "5m", custom }),
    key({ preset: "custom", window: "5m", custom: { ...custom, serviceLabelFormat: "{name}-predictor" } }),
  );
  // A custom spec on a preset request is ignored.
  assert.equal(key({ preset: "kserve", window: "5m", custom }), key({ preset: "kserve", window: "5m" }));
});

test("parseServiceLabelFormat", () => {
  assert.deepEqual(parseServiceLabelFormat("{name}"), { prefix: "", suffix: "" });
  assert.deepEqual(parseServiceLabelFormat("{name}-predictor"), { prefix: "", suffix: "-predictor" });
  assert.deepEqual(parseServiceLabelFormat("a-{name}-b"), { prefix: "a-", suffix: "-b" });
  assert.equal(parseServiceLabelFormat("name"), undefined);
  assert.equal(parseServiceLabelFormat("{name}{name}"), undefined);
});
