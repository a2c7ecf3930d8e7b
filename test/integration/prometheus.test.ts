// The Prometheus adapter against a real Prometheus (Debian's package): it scrapes a small /metrics
// server run by this test every second, and the daemon's batched queries must come back right.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startPrometheus, type RunningPrometheus } from "../support/prometheus.ts";
import {
  createPrometheusClient,
  type PrometheusClient,
  type PrometheusClientOptions,
  type VectorSample,
} from "../../src/sources/prometheus/client.ts";
import { readTraffic, type TrafficReading, type TrafficRequest } from "../../src/sources/prometheus/traffic.ts";
import type { CustomQueryPolicy } from "../../src/sources/prometheus/presets.ts";

const CUSTOM_ALLOWED: CustomQueryPolicy = { allowed: true, namespaceLabel: "namespace" };

const RPS = 10; // requests per second of the busy services
const started = Date.now();
const served = () => Math.floor(((Date.now() - started) / 1000) * RPS);

// Busy service "a" in each serving path's metric, an idle one "b" whose counter is constant,
// and series that must be ignored (a transformer, Istio's source-side report).
function exposition(): string {
  const n = served();
  return `# TYPE request_predict_seconds histogram
request_predict_seconds_bucket{namespace="ml",model_name="a",le="+Inf"} ${n}
request_predict_seconds_sum{namespace="ml",model_name="a"} ${n * 0.05}
request_predict_seconds_count{namespace="ml",model_name="a"} ${n}
request_predict_seconds_bucket{namespace="ml",model_name="b",le="+Inf"} 7
request_predict_seconds_sum{namespace="ml",model_name="b"} 0.35
request_predict_seconds_count{namespace="ml",model_name="b"} 7
# TYPE vllm:request_success_total counter
vllm:request_success_total{namespace="llm",model_name="a",finished_reason="stop"} ${n}
vllm:request_success_total{namespace="llm",model_name="a",finished_reason="length"} ${n}
vllm:request_success_total{namespace="llm",model_name="b",finished_reason="stop"} 3
# TYPE revision_app_request_count counter
revision_app_request_count{namespace_name="kn",service_name="a-predictor",configuration_name="a-predictor",revision_name="a-predictor-00001",response_code="200"} ${n}
revision_app_request_count{namespace_name="kn",service_name="a-transformer",configuration_name="a-transformer",revision_name="a-transformer-00001",response_code="200"} ${n * 100}
revision_app_request_count{namespace_name="kn",service_name="b-predictor",configuration_name="b-predictor",revision_name="b-predictor-00001",response_code="200"} 4
# TYPE istio_requests_total counter
istio_requests_total{reporter="destination",destination_service_namespace="mesh",destination_service_name="a-predictor-00001-private",response_code="200"} ${n}
istio_requests_total{reporter="source",destination_service_namespace="mesh",destination_service_name="a-predictor",response_code="200"} ${n * 100}
istio_requests_total{reporter="destination",destination_service_namespace="mesh",destination_service_name="b-predictor",response_code="200"} 5
`;
}

let target: Server;
let prom: RunningPrometheus;
// A second Prometheus serving HTTPS and requiring client certificates; started alongside the
// first because Prometheus' discovery takes ~5 s to hand a static target to the scraper.
let tlsProm: RunningPrometheus;
const tmp = mkdtempSync(join(tmpdir(), "prometheus-test-"));
const pki = makePki(join(tmp, "pki"));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

before(async () => {
  target = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("content-type", "text/plain; version=0.0.4");
    res.end(exposition());
  });
  const port = await listen(target);
  [prom, tlsProm] = await Promise.all([
    startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeInterval: "1s" }),
    startPrometheus({
      scrapeTargets: [`127.0.0.1:${port}`],
      tls: { certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca.cert },
    }),
  ]);
});

after(async () => {
  await Promise.all([prom?.stop(), tlsProm?.stop()]);
  if (target) await close(target);
  rmSync(tmp, { recursive: true, force: true });
});

// A custom query may reshape labels within its own namespace; here model_name "a" becomes "a-custom".
const custom = {
  query: 'label_replace(rate(request_predict_seconds_count[$window]), "model_name", "$1-custom", "model_name", "(.+)")',
  namespaceLabel: "namespace",
  serviceLabel: "model_name",
  serviceLabelFormat: "{name}",
};
const requests: TrafficRequest[] = [
  { service: "ml/a", preset: "kserve", window: "5s" },
  { service: "ml/b", preset: "kserve", window: "5s" },
  { service: "ml/c", preset: "kserve", window: "5s" },
  { service: "llm/a", preset: "vllm", window: "5s" },
  { service: "llm/b", preset: "vllm", window: "5s" },
  { service: "kn/a", preset: "knative", window: "5s" },
  { service: "kn/b", preset: "knative", window: "5s" },
  { service: "mesh/a", preset: "istio", window: "5s" },
  { service: "mesh/b", preset: "istio", window: "5s" },
  { service: "ml/a-custom", preset: "custom", window: "5s", custom },
  // Same query as ml/a with the window written differently: shares its query.
  { service: "ml/a-hour", preset: "custom", window: "1h", custom: { ...custom, serviceLabelFormat: "{name}-hour" } },
];

/**
 * Reads until every listed service is known (a rate needs two samples in the window), then, when
 * `fullWindow`, once more after one more window: until a series is as old as the window, rate()
 * averages its increase over the whole window and so reads low (see docs/metrics-presets.md).
 */
async function readWhenScraped(
  options: PrometheusClientOptions,
  services: string[],
  fullWindow = false,
  timeoutMs = 20_000,
): Promise<TrafficReading> {
  const client = createPrometheusClient(options);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reading = await readTraffic(client, requests, CUSTOM_ALLOWED);
      if (services.every((s) => reading.byService.get(s)?.kind === "known")) {
        if (!fullWindow) return reading;
        await sleep(5_500);
        return await readTraffic(client, requests, CUSTOM_ALLOWED);
      }
      if (Date.now() > deadline) assert.fail(`not known after ${timeoutMs} ms: ${JSON.stringify([...reading.byService], null, 1)}`);
      await sleep(250);
    }
  } finally {
    client.close();
  }
}

function rps(reading: TrafficReading, service: string): number {
  const r = reading.byService.get(service);
  assert.equal(r?.kind, "known", `${service}: ${JSON.stringify(r)}`);
  return r?.kind === "known" ? r.rps : Number.NaN;
}

test("batched queries per preset: busy > 0, constant counter = 0, absent series unknown", async () => {
  const reading = await readWhenScraped({ baseUrl: prom.url }, ["ml/a", "ml/b", "llm/b", "kn/b", "mesh/b"], true);
  // One query per distinct (preset, window, custom spec): kserve, vllm, knative, istio, two customs.
  assert.equal(reading.queries.length, 6);
  assert.ok(
    reading.queries.every((q) => q.ok),
    JSON.stringify(reading.queries),
  );
  for (const q of reading.queries) assert.ok(q.latencySeconds > 0 && q.latencySeconds < 5);

  const near = (value: number, expected: number) =>
    assert.ok(value > expected * 0.5 && value < expected * 1.5, `${value} not near ${expected}`);
  near(rps(reading, "ml/a"), RPS);
  near(rps(reading, "llm/a"), 2 * RPS); // both finished_reason series are summed
  near(rps(reading, "kn/a"), RPS); // the transformer's series is not added
  near(rps(reading, "mesh/a"), RPS); // reporter="source" is not added
  near(rps(reading, "ml/a-custom"), RPS);
  for (const s of ["ml/b", "llm/b", "kn/b", "mesh/b"]) assert.equal(rps(reading, s), 0, s);

  const c = reading.byService.get("ml/c");
  assert.equal(c?.kind, "unknown");
  if (c?.kind === "unknown") assert.match(c.why, /no kserve series/);

  // A counter that existed for only a few seconds of a 1h window: rate() extrapolates at most
  // half a scrape interval beyond its samples, so the increase is averaged over the whole hour.
  const hour = reading.byService.get("ml/a-hour");
  assert.equal(hour?.kind, "unknown", "the custom format {name}-hour maps no series");
  const client = createPrometheusClient({ baseUrl: prom.url });
  const hourly = await readTraffic(client, [{ service: "ml/a", preset: "kserve", window: "1h" }]);
  client.close();
  const diluted = rps(hourly, "ml/a");
  assert.ok(diluted > 0 && diluted < RPS / 50, `1h rate of a young counter: ${diluted}`);
});

/** A client that remembers what was sent and what came back, to check the daemon's queries themselves. */
function recording(inner: PrometheusClient): PrometheusClient & { log: { promql: string; samples: VectorSample[] }[] } {
  const log: { promql: string; samples: VectorSample[] }[] = [];
  return {
    log,
    async query(promql, options) {
      const result = await inner.query(promql, options);
      log.push({ promql, samples: result.kind === "ok" ? result.samples : [] });
      return result;
    },
    close: () => inner.close(),
  };
}

test("a tenant's custom query naming another namespace cannot see that namespace's series", async () => {
  const direct = createPrometheusClient({ baseUrl: prom.url });
  const client = recording(direct);
  try {
    // The data is there: the same PromQL sent as written (as before confinement) reads namespace ml.
    const foreign = 'sum by (namespace, model_name) (rate(request_predict_seconds_count{namespace="ml"}[$window]))';
    const raw = await direct.query(foreign.replaceAll("$window", "5s"));
    assert.equal(raw.kind, "ok");
    assert.ok(raw.kind === "ok" && raw.samples.some((s) => s.labels["namespace"] === "ml"), "namespace ml has series");

    // Off by default: nothing is sent at all.
    const off = await readTraffic(client, [{ service: "llm/a", preset: "custom", window: "5s", custom: { ...custom, query: foreign } }]);
    assert.equal(client.log.length, 0);
    const offResult = off.byService.get("llm/a");
    assert.equal(offResult?.kind, "unknown");
    if (offResult?.kind === "unknown") assert.match(offResult.why, /custom queries are disabled by the cluster admin/);

    // Allowed, from a schedule in namespace llm: every selector is pinned to llm, so even a query
    // for every metric name and namespace returns llm's series only.
    const hostile = [
      foreign,
      'sum by (namespace, model_name) (rate({__name__=~"request_predict_seconds_count|vllm:request_success_total", namespace=~".+"}[$window]))',
      'sum by (namespace, model_name) (rate(request_predict_seconds_count{namespace!="llm"}[$window]) or on() vector(1))',
      'label_replace(max_over_time(rate(request_predict_seconds_count{namespace="ml"}[2s])[$window:1s]), "namespace", "llm", "", "")',
    ];
    const reading = await readTraffic(
      client,
      hostile.map((query, i) => ({ service: `llm/t${i}`, preset: "custom", window: "5s", custom: { ...custom, query } })),
      CUSTOM_ALLOWED,
    );
    assert.equal(client.log.length, hostile.length);
    assert.ok(
      reading.queries.every((q) => q.ok),
      JSON.stringify(reading.queries),
    );
    for (const { promql, samples } of client.log) {
      assert.doesNotMatch(promql, /namespace="ml"|namespace=~|namespace!=/, promql);
      for (const sample of samples) assert.notEqual(sample.labels["namespace"], "ml", `${promql} -> ${JSON.stringify(sample.labels)}`);
    }
    // vllm:request_success_total does exist in llm, so the __name__ query does return something: llm's.
    // the queries go out concurrently: find that one by its text, not by its place in the log
    const byName = client.log.find((l) => l.promql.includes("__name__"));
    assert.ok(
      byName?.samples.some((s) => s.labels["namespace"] === "llm"),
      JSON.stringify(byName),
    );
    for (const [service, result] of reading.byService) assert.equal(result.kind, "unknown", `${service}: ${JSON.stringify(result)}`);
  } finally {
    client.close();
  }
});

test("bearer token file (rotated) and custom headers reach Prometheus through a recording proxy", async (t) => {
  const seen: { authorization: string | undefined; tenant: string | undefined }[] = [];
  const proxy = createServer((req, res) => {
    seen.push({ authorization: req.headers["authorization"], tenant: req.headers["x-scope-orgid"] as string | undefined });
    const upstream = httpRequest(
      `${prom.url}${req.url}`,
      { method: req.method, headers: { ...req.headers, host: new URL(prom.url).host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(upstream);
  });
  const port = await listen(proxy);
  t.after(() => close(proxy));
  const tokenFile = join(tmp, "token");
  writeFileSync(tokenFile, "token-1\n");
  const client = createPrometheusClient({
    baseUrl: `http://127.0.0.1:${port}`,
    bearerTokenFile: tokenFile,
    headers: { "X-Scope-OrgID": "team-ml" },
  });
  t.after(() => client.close());
  const first = await readTraffic(client, [{ service: "ml/b", preset: "kserve", window: "5s" }]);
  writeFileSync(tokenFile, "token-2\n");
  const second = await readTraffic(client, [{ service: "ml/b", preset: "kserve", window: "5s" }]);
  assert.deepEqual(first.byService.get("ml/b"), { kind: "known", rps: 0 });
  assert.deepEqual(second.byService.get("ml/b"), { kind: "known", rps: 0 });
  assert.deepEqual(seen, [
    { authorization: "Bearer token-1", tenant: "team-ml" },
    { authorization: "Bearer token-2", tenant: "team-ml" },
  ]);
});

test("TLS with a custom CA and client certificates (mTLS) against Prometheus' own TLS", async () => {
  assert.match(tlsProm.url, /^https:/);

  const mtls = { baseUrl: tlsProm.url, caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key };
  const reading = await readWhenScraped(mtls, ["ml/b"]);
  assert.equal(rps(reading, "ml/b"), 0);
  assert.ok(rps(reading, "ml/a") > 0);

  const probe = async (options: PrometheusClientOptions) => {
    const client = createPrometheusClient(options);
    try {
      return await client.query("up");
    } finally {
      client.close();
    }
  };
  const noClientCert = await probe({ baseUrl: tlsProm.url, caFile: pki.ca.cert, timeoutMs: 3_000 });
  assert.equal(noClientCert.kind, "error", "Prometheus requires a client certificate");
  const unknownCa = await probe({ baseUrl: tlsProm.url, certFile: pki.client.cert, keyFile: pki.client.key, timeoutMs: 3_000 });
  assert.equal(unknownCa.kind, "error");
  if (unknownCa.kind === "error") assert.match(unknownCa.error, /certificate/i);
  const insecure = await probe({ baseUrl: tlsProm.url, certFile: pki.client.cert, keyFile: pki.client.key, insecureSkipVerify: true });
  assert.equal(insecure.kind, "ok");
});

test("Prometheus stopped: every service unknown with the error, queries failed, nothing thrown", async () => {
  await prom.stop();
  const client = createPrometheusClient({ baseUrl: prom.url, timeoutMs: 2_000 });
  const reading = await readTraffic(client, requests, CUSTOM_ALLOWED);
  client.close();
  assert.equal(reading.byService.size, requests.length);
  for (const [service, result] of reading.byService) {
    assert.equal(result.kind, "unknown", service);
    if (result.kind === "unknown") assert.match(result.why, /query failed: .*ECONNREFUSED/, service);
  }
  assert.equal(reading.queries.length, 6);
  assert.ok(reading.queries.every((q) => !q.ok && q.error !== undefined));
});

type Pair = { cert: string; key: string };

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI). */
function makePki(dir: string): { ca: Pair; server: Pair; client: Pair } {
  execFileSync("mkdir", ["-p", dir]);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    ca.key,
    "-out",
    ca.cert,
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  );
  const issue = (name: string, ext: string[]): Pair => {
    const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    const csr = join(dir, `${name}.csr`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, `${ext.join("\n")}\n`);
    openssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      pair.key,
      "-out",
      csr,
      "-subj",
      `/CN=${name}`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-out",
      pair.cert,
      "-days",
      "1",
      "-sha256",
      "-extfile",
      extFile,
    );
    return pair;
  };
  return {
    ca,
    server: issue("server", [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]),
    client: issue("client", [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=clientAuth",
    ]),
  };
}
