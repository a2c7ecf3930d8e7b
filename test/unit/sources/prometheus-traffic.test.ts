import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { readTraffic, type TrafficRequest } from "../../../src/sources/prometheus/traffic.ts";
import type { PrometheusClient, QueryResult, VectorSample } from "../../../src/sources/prometheus/client.ts";

function fakeClient(answer: (promql: string) => QueryResult | Promise<QueryResult>) {
  const sent: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client: PrometheusClient = {
    async query(promql) {
      sent.push(promql);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(20);
      try {
        return await answer(promql);
      } finally {
        inFlight--;
      }
    },
    close() {},
  };
  return { client, sent, maxInFlight: () => maxInFlight };
}

const ok = (samples: VectorSample[]): QueryResult => ({ kind: "ok", samples, warnings: [], latencySeconds: 0.01 });

test("one query per distinct (preset, window), concurrently; absent is unknown, zero is known", async () => {
  const fake = fakeClient((promql) => {
    if (promql.includes("request_predict_seconds_count[900s]")) {
      return ok([
        { labels: { namespace: "ml", model_name: "a" }, value: 1.5 },
        { labels: { namespace: "ml", model_name: "b" }, value: 0 },
        { labels: { namespace: "other", model_name: "z" }, value: 9 },
        { labels: { model_name: "no-namespace" }, value: 9 },
      ]);
    }
    if (promql.includes("vllm")) return ok([{ labels: { namespace: "llm", model_name: "m" }, value: 0.2 }]);
    return ok([]);
  });
  const requests: TrafficRequest[] = [
    { service: "ml/a", preset: "kserve", window: "15m" },
    { service: "ml/b", preset: "kserve", window: "900s" },
    { service: "ml/c", preset: "kserve", window: "15m" },
    { service: "llm/m", preset: "vllm", window: "15m" },
    { service: "ml/d", preset: "kserve", window: "5m" },
  ];
  const reading = await readTraffic(fake.client, requests);
  assert.equal(fake.sent.length, 3);
  assert.equal(fake.maxInFlight(), 3);
  assert.deepEqual(reading.byService.get("ml/a"), { kind: "known", rps: 1.5 });
  assert.deepEqual(reading.byService.get("ml/b"), { kind: "known", rps: 0 });
  assert.equal(reading.byService.get("ml/c")?.kind, "unknown");
  assert.equal(reading.byService.get("ml/d")?.kind, "unknown");
  assert.deepEqual(reading.byService.get("llm/m"), { kind: "known", rps: 0.2 });
  assert.equal(reading.byService.size, 5);
  assert.equal(reading.byService.has("other/z"), false);
  const kserve15 = reading.queries.find((q) => q.promql?.includes("[900s]") && q.preset === "kserve");
  assert.deepEqual({ ok: kserve15?.ok, series: kserve15?.series, services: kserve15?.services }, { ok: true, series: 4, services: 3 });
});

test("a failed query makes all its services unknown with the error; other presets are unaffected", async () => {
  const fake = fakeClient((promql) =>
    promql.includes("istio")
      ? { kind: "error", error: "HTTP 503: unavailable: not ready", latencySeconds: 0.5 }
      : ok([{ labels: { namespace: "ml", model_name: "a" }, value: 0 }]),
  );
  const reading = await readTraffic(fake.client, [
    { service: "ml/a", preset: "kserve", window: "1m" },
    { service: "ml/x", preset: "istio", window: "1m" },
    { service: "ml/y", preset: "istio", window: "1m" },
  ]);
  assert.deepEqual(reading.byService.get("ml/a"), { kind: "known", rps: 0 });
  for (const s of ["ml/x", "ml/y"]) {
    const r = reading.byService.get(s);
    assert.equal(r?.kind, "unknown");
    if (r?.kind === "unknown") assert.match(r.why, /istio query failed: HTTP 503/);
  }
  const failed = reading.queries.filter((q) => !q.ok);
  assert.deepEqual(
    failed.map((q) => [q.preset, q.latencySeconds, q.services]),
    [["istio", 0.5, 2]],
  );
});

test("istio: several series of one service are summed; NaN and negative values are unknown", async () => {
  const fake = fakeClient((promql) =>
    promql.includes("istio")
      ? ok([
          { labels: { destination_service_namespace: "ml", destination_service_name: "a-predictor" }, value: 1 },
          { labels: { destination_service_namespace: "ml", destination_service_name: "a-predictor-00001-private" }, value: 2 },
          { labels: { destination_service_namespace: "ml", destination_service_name: "n-predictor" }, value: Number.NaN },
          { labels: { destination_service_namespace: "ml", destination_service_name: "n-predictor-00001" }, value: 1 },
        ])
      : ok([
          { labels: { ns: "ml", svc: "neg" }, value: -1 },
          { labels: { ns: "ml", svc: "inf" }, value: Number.POSITIVE_INFINITY },
        ]),
  );
  const custom = { query: "rate(x[$window])", namespaceLabel: "ns", serviceLabel: "svc", serviceLabelFormat: "{name}" };
  const reading = await readTraffic(
    fake.client,
    [
      { service: "ml/a", preset: "istio", window: "1m" },
      { service: "ml/n", preset: "istio", window: "1m" },
      { service: "ml/neg", preset: "custom", window: "1m", custom },
      { service: "ml/inf", preset: "custom", window: "1m", custom },
    ],
    { allowed: true, namespaceLabel: "namespace" },
  );
  assert.deepEqual(reading.byService.get("ml/a"), { kind: "known", rps: 3 });
  for (const s of ["ml/n", "ml/neg", "ml/inf"]) assert.equal(reading.byService.get(s)?.kind, "unknown", s);
  assert.equal(fake.sent.length, 2);
});

test("an invalid spec is unknown for its service and sends nothing; an empty request list sends nothing", async () => {
  const fake = fakeClient(() => ok([]));
  const reading = await readTraffic(
    fake.client,
    [
      { service: "ml/a", preset: "custom", window: "1m" },
      { service: "ml/b", preset: "kserve", window: "never" },
    ],
    { allowed: true, namespaceLabel: "namespace" },
  );
  assert.equal(fake.sent.length, 0);
  for (const s of ["ml/a", "ml/b"]) {
    const r = reading.byService.get(s);
    assert.equal(r?.kind, "unknown");
    if (r?.kind === "unknown") assert.match(r.why, /^invalid metric spec/);
  }
  assert.equal(reading.queries.filter((q) => !q.ok).length, 2);
  assert.deepEqual(await readTraffic(fake.client, []), { byService: new Map(), queries: [] });
});

test("a service requested twice keeps its last request", async () => {
  const fake = fakeClient(() => ok([{ labels: { namespace: "ml", model_name: "a" }, value: 4 }]));
  const reading = await readTraffic(fake.client, [
    { service: "ml/a", preset: "kserve", window: "1m" },
    { service: "ml/a", preset: "kserve", window: "2m" },
  ]);
  assert.equal(fake.sent.length, 1);
  assert.match(fake.sent[0] ?? "", /\[120s\]/);
  assert.deepEqual(reading.byService.get("ml/a"), { kind: "known", rps: 4 });
});
