import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseQueryResponse, parsePromFloat, createPrometheusClient } from "../../../src/sources/prometheus/client.ts";

const vector = (result: unknown) => JSON.stringify({ status: "success", data: { resultType: "vector", result } });

test("parseQueryResponse accepts an instant vector and parses Prometheus floats", () => {
  const r = parseQueryResponse(
    200,
    vector([
      { metric: { namespace: "ml", model_name: "a" }, value: [1700000000.1, "2.5"] },
      { metric: {}, value: [1700000000.1, "NaN"] },
      { metric: { x: "y" }, value: [1700000000.1, "+Inf"] },
    ]),
  );
  assert.equal(r.kind, "ok");
  if (r.kind !== "ok") return;
  assert.deepEqual(r.samples[0], { labels: { namespace: "ml", model_name: "a" }, value: 2.5 });
  assert.ok(Number.isNaN(r.samples[1]?.value));
  assert.equal(r.samples[2]?.value, Number.POSITIVE_INFINITY);
  assert.deepEqual(r.warnings, []);
});

test("parseQueryResponse: garbage, errors and other result types are errors", () => {
  const table: [number, string, RegExp][] = [
    [200, "<html>proxy login</html>", /not JSON/],
    [200, "", /not JSON/],
    [200, "{}", /unexpected Prometheus response/],
    [200, JSON.stringify({ status: "success" }), /unexpected Prometheus response/],
    [200, JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }), /resultType "matrix"/],
    [200, JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "1"] } }), /resultType "scalar"/],
    [200, JSON.stringify({ status: "success", data: { resultType: "string", result: [1, "x"] } }), /resultType "string"/],
    [200, vector([{ metric: { a: 1 }, value: [1, "1"] }]), /unexpected vector/],
    [200, vector([{ metric: {}, value: ["1", 1] }]), /unexpected vector/],
    [200, vector({}), /unexpected vector/],
    [400, JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error at char 5" }), /HTTP 400: bad_data: parse error/],
    [503, JSON.stringify({ status: "error", errorType: "unavailable", error: "not ready" }), /HTTP 503: unavailable/],
    [502, "Bad Gateway", /HTTP 502: Bad Gateway/],
    [401, "", /HTTP 401: \(empty body\)/],
    [500, vector([]), /HTTP 500 with status success/],
  ];
  for (const [status, body, expected] of table) {
    const r = parseQueryResponse(status, body);
    assert.equal(r.kind, "error", body);
    if (r.kind === "error") assert.match(r.error, expected);
  }
});

test("parsePromFloat", () => {
  assert.equal(parsePromFloat("0"), 0);
  assert.equal(parsePromFloat("1e-3"), 0.001);
  assert.equal(parsePromFloat("-Inf"), Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(parsePromFloat("")));
  assert.ok(Number.isNaN(parsePromFloat("abc")));
});

type Seen = { method: string | undefined; url: string | undefined; headers: IncomingMessage["headers"]; body: string };

async function fakePrometheus(respond: (seen: Seen, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const s = { method: req.method, url: req.url, headers: req.headers, body };
      seen.push(s);
      respond(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test("client: POSTs a form to <base>/api/v1/query with token (re-read per request), custom headers and a timeout", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "prom-client-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "first\n");
  const fake = await fakePrometheus((_s, res) => res.end(vector([{ metric: { namespace: "ml", model_name: "a" }, value: [1, "3"] }])));
  t.after(fake.close);
  const client = createPrometheusClient({
    baseUrl: `${fake.url}/prefix/`,
    bearerTokenFile: tokenFile,
    headers: { "X-Scope-OrgID": "team-a" },
    timeoutMs: 2_000,
  });
  t.after(() => client.close());

  const r1 = await client.query("sum(rate(x[5m]))", { time: new Date(1_700_000_000_500) });
  assert.equal(r1.kind, "ok");
  assert.ok(r1.latencySeconds >= 0 && r1.latencySeconds < 2);
  writeFileSync(tokenFile, "second");
  const r2 = await client.query("up");
  assert.equal(r2.kind, "ok");

  const [s1, s2] = fake.seen;
  assert.equal(s1?.method, "POST");
  assert.equal(s1?.url, "/prefix/api/v1/query");
  assert.equal(s1?.headers["content-type"], "application/x-www-form-urlencoded");
  assert.equal(s1?.headers["authorization"], "Bearer first");
  assert.equal(s1?.headers["x-scope-orgid"], "team-a");
  const form = new URLSearchParams(s1?.body);
  assert.equal(form.get("query"), "sum(rate(x[5m]))");
  assert.equal(form.get("time"), "1700000000.5");
  assert.equal(form.get("timeout"), "2s");
  assert.equal(s2?.headers["authorization"], "Bearer second");
});

test("client: basic auth with the password from a file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "prom-client-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "pw"), "s3cret\n");
  const fake = await fakePrometheus((_s, res) => res.end(vector([])));
  t.after(fake.close);
  const client = createPrometheusClient({ baseUrl: fake.url, basicAuth: { username: "reclaimer", passwordFile: join(dir, "pw") } });
  t.after(() => client.close());
  const r = await client.query("up");
  assert.deepEqual(r.kind === "ok" ? r.samples : r, []);
  assert.equal(fake.seen[0]?.headers["authorization"], `Basic ${Buffer.from("reclaimer:s3cret").toString("base64")}`);
});

test("client: failures are results, never exceptions", async (t) => {
  const hang = await fakePrometheus(() => {
    /* never answers */
  });
  t.after(hang.close);
  const timeout = await createPrometheusClient({ baseUrl: hang.url, timeoutMs: 300 }).query("up");
  assert.equal(timeout.kind, "error");
  if (timeout.kind === "error") assert.match(timeout.error, /timed out after 300 ms/);
  assert.ok(timeout.latencySeconds >= 0.25 && timeout.latencySeconds < 2, String(timeout.latencySeconds));

  const unauthorized = await fakePrometheus((_s, res) => {
    res.statusCode = 401;
    res.end("Unauthorized");
  });
  t.after(unauthorized.close);
  const r401 = await createPrometheusClient({ baseUrl: unauthorized.url }).query("up");
  assert.deepEqual(r401.kind === "error" ? r401.error : r401, "HTTP 401: Unauthorized");

  // Nothing listens on the port of a closed server.
  const closed = await fakePrometheus(() => undefined);
  await closed.close();
  const refused = await createPrometheusClient({ baseUrl: closed.url, timeoutMs: 2_000 }).query("up");
  assert.equal(refused.kind, "error");
  if (refused.kind === "error") assert.match(refused.error, /ECONNREFUSED/);

  const missingToken = await createPrometheusClient({ baseUrl: closed.url, bearerTokenFile: "/nonexistent/token" }).query("up");
  assert.equal(missingToken.kind, "error");
  if (missingToken.kind === "error") assert.match(missingToken.error, /cannot read bearer token file \/nonexistent\/token/);

  const missingCa = await createPrometheusClient({ baseUrl: "https://127.0.0.1:1", caFile: "/nonexistent/ca.crt" }).query("up");
  assert.equal(missingCa.kind, "error");
  if (missingCa.kind === "error") assert.match(missingCa.error, /cannot read TLS file \/nonexistent\/ca.crt/);
});

test("client: configuration mistakes are thrown at construction", () => {
  assert.throws(() => createPrometheusClient({ baseUrl: "ftp://x" }), /http or https/);
  assert.throws(() => createPrometheusClient({ baseUrl: "not a url" }));
  assert.throws(() => createPrometheusClient({ baseUrl: "https://x", certFile: "/a" }), /both/);
});
