// A custom idle query runs with the daemon's Prometheus credentials, so a tenant must not be able to
// read another namespace's series with it: off unless the cluster admin allows it, and then every
// selector is confined to the schedule's namespace before anything is sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { prepareQuery, type CustomQueryPolicy, type TrafficQuerySpec } from "../../../src/sources/prometheus/presets.ts";
import { readTraffic, type TrafficRequest } from "../../../src/sources/prometheus/traffic.ts";
import type { PrometheusClient, QueryResult } from "../../../src/sources/prometheus/client.ts";

const ALLOWED: CustomQueryPolicy = { allowed: true, namespaceLabel: "namespace" };
const custom = (query: string) => ({ query, namespaceLabel: "namespace", serviceLabel: "model_name", serviceLabelFormat: "{name}" });

function recordingClient(answer: (promql: string) => QueryResult = () => ({ kind: "ok", samples: [], warnings: [], latencySeconds: 0 })) {
  const sent: string[] = [];
  const client: PrometheusClient = {
    async query(promql) {
      sent.push(promql);
      return answer(promql);
    },
    close() {},
  };
  return { client, sent };
}

test("custom queries are off unless the admin allows them: nothing is sent, the services are unknown with the reason", async () => {
  const fake = recordingClient();
  const requests: TrafficRequest[] = [
    {
      service: "a/llama",
      preset: "custom",
      window: "5m",
      custom: custom('sum by (namespace, model_name) (rate(x{namespace="b"}[$window]))'),
    },
    { service: "a/kept", preset: "kserve", window: "5m" },
  ];
  const reading = await readTraffic(fake.client, requests);
  assert.equal(fake.sent.length, 1);
  assert.doesNotMatch(fake.sent[0] ?? "", /namespace="b"/);
  const llama = reading.byService.get("a/llama");
  assert.equal(llama?.kind, "unknown");
  if (llama?.kind === "unknown") assert.match(llama.why, /custom queries are disabled by the cluster admin/);
  const outcome = reading.queries.find((q) => q.preset === "custom");
  assert.equal(outcome?.ok, false);
  assert.match(outcome?.error ?? "", /--allow-custom-queries/);

  const spec: TrafficQuerySpec = { preset: "custom", window: "5m", namespace: "a", custom: custom("x") };
  assert.equal(prepareQuery(spec).kind, "disabled");
  assert.equal(prepareQuery(spec, { allowed: false }).kind, "disabled");
});

test("allowed: a query naming another namespace is confined to the schedule's namespace before it is sent", async () => {
  const hostile = [
    'rate(x{namespace="b"}[$window])',
    'rate(x{namespace=~".+"}[$window])',
    'rate({__name__="x", namespace="b"}[$window])',
    'rate(x{namespace="b"}[$window]) or on() vector(1)',
    'label_replace(rate(x{namespace="b"}[$window]), "namespace", "a", "", "")',
    'max_over_time(rate(x{namespace="b"}[1m])[$window:1m])',
    'rate(x{namespace="b"}[$window] offset 1h)',
    'rate({"namespace"="b", "x"}[$window])',
  ];
  const fake = recordingClient();
  await readTraffic(
    fake.client,
    hostile.map((query, i) => ({ service: `a/s${i}`, preset: "custom", window: "5m", custom: custom(query) })),
    ALLOWED,
  );
  assert.equal(fake.sent.length, hostile.length);
  for (const promql of fake.sent) {
    assert.doesNotMatch(promql, /namespace="b"|namespace=~|"namespace"=/, promql);
    const selectors = promql.match(/\{[^}]*\}/g) ?? [];
    assert.ok(selectors.length > 0, promql);
    for (const s of selectors) assert.match(s, /namespace="a"/, promql);
  }
  assert.equal(fake.sent[0], 'sum by (namespace, model_name) (\nrate(x{namespace="a"}[300s])\n)');
});

test("allowed: a query that cannot be confined is refused and never sent", async () => {
  const fake = recordingClient();
  const reading = await readTraffic(
    fake.client,
    [
      { service: "a/broken", preset: "custom", window: "5m", custom: custom("rate(x[$window]") },
      { service: "a/escape", preset: "custom", window: "5m", custom: custom('rate({"name\\x73pace"="b"}[$window])') },
      { service: "a/close", preset: "custom", window: "5m", custom: custom("x) or (y") },
    ],
    ALLOWED,
  );
  assert.deepEqual(fake.sent, []);
  for (const [service, r] of reading.byService) {
    assert.equal(r.kind, "unknown", service);
    if (r.kind === "unknown") assert.match(r.why, /^invalid metric spec: custom\.query /, service);
  }
});

test("allowed: series of another namespace never answer for a service, and namespaces never share a query", async () => {
  const fake = recordingClient((promql) => ({
    kind: "ok",
    warnings: [],
    latencySeconds: 0,
    // What label_replace or a tenant's own pods exporting a namespace label could produce.
    samples: promql.includes('namespace="a"')
      ? [
          { labels: { namespace: "b", model_name: "victim" }, value: 0 },
          { labels: { namespace: "a", model_name: "mine" }, value: 2 },
        ]
      : [],
  }));
  const spec = custom("rate(x[$window])");
  const reading = await readTraffic(
    fake.client,
    [
      { service: "a/mine", preset: "custom", window: "5m", custom: spec },
      { service: "b/victim", preset: "custom", window: "5m", custom: spec },
    ],
    ALLOWED,
  );
  assert.equal(fake.sent.length, 2);
  assert.ok(fake.sent.some((q) => q.includes('namespace="a"')) && fake.sent.some((q) => q.includes('namespace="b"')));
  assert.deepEqual(reading.byService.get("a/mine"), { kind: "known", rps: 2 });
  assert.equal(reading.byService.get("b/victim")?.kind, "unknown");
  assert.deepEqual(reading.queries.map((q) => q.namespace).sort(), ["a", "b"]);
});
