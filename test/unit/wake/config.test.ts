import assert from "node:assert/strict";
import { test } from "node:test";
import { loadWakerConfig, parseSize, trustedProxyList, WakerConfigError } from "../../../src/wake/config.ts";
import { fillTemplate, templateProblems } from "../../../src/wake/upstream.ts";

const base = ["--daemon-url", "http://kserve-reclaimer.kserve-reclaimer.svc:8080"];

function problems(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadWakerConfig(args, env);
  } catch (e) {
    if (e instanceof WakerConfigError) return e.problems;
    throw e;
  }
  return [];
}

test("defaults as the contract names them", () => {
  const c = loadWakerConfig(base, {});
  // not the daemon's :8080 nor Prometheus's :9090; /metrics on loopback unless the manifests say otherwise
  assert.deepEqual(c.listen, { host: "0.0.0.0", port: 8081 });
  assert.deepEqual(c.metricsAddr, { host: "127.0.0.1", port: 8082 });
  assert.equal(c.upstreamTemplate, "http://{name}-predictor.{namespace}.svc.cluster.local");
  assert.equal(c.tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  assert.equal(c.maxHeldRequests, 1000);
  assert.equal(c.maxHeldBytes, 64 * 1024 * 1024);
  assert.equal(c.maxBodyBytes, 8 * 1024 * 1024);
  assert.equal(c.holdTimeoutMs, 5 * 60_000);
  assert.equal(c.bodyIdleTimeoutMs, 10_000);
  assert.equal(c.bodyTimeoutMs, 60_000);
  assert.deepEqual(c.trustedProxies, []);
});

test("trusted proxies, body timeouts and templates at their worst: each one problem", () => {
  const problems = (args: string[]) => {
    try {
      loadWakerConfig([...base, ...args], {});
      return [];
    } catch (e) {
      return (e as WakerConfigError).problems;
    }
  };
  assert.deepEqual(loadWakerConfig([...base, "--trusted-proxies=10.0.0.0/8, fd00::/8,192.0.2.7"], {}).trustedProxies, [
    "10.0.0.0/8",
    "fd00::/8",
    "192.0.2.7/32",
  ]);
  for (const bad of ["10.0.0.0/33", "fd00::/129", "example.com", "10.0.0.0/-1", "\u001b[2J", "1.2.3.4/8/8"])
    assert.equal(problems([`--trusted-proxies=${bad}`]).length, 1, bad);
  assert.equal(problems([`--trusted-proxies=${Array.from({ length: 65 }, (_, i) => `10.0.0.${i}`).join(",")}`]).length, 1);
  for (const bad of ["0s", "999ms", "6m", "-1s", "NaN", "Infinity", "1e9s", ""])
    assert.equal(problems([`--body-idle-timeout=${bad}`]).length, 1, `idle ${bad}`);
  for (const bad of ["4s", "31m", "forever"]) assert.equal(problems([`--body-timeout=${bad}`]).length, 1, `body ${bad}`);
  // an all-digit namespace is a valid Kubernetes name: a host ending in {namespace} would make no URL
  assert.match(problems(["--upstream-template=http://{name}.{namespace}"]).join("\n"), /all digits/);
  assert.deepEqual(problems(["--upstream-template=http://{name}.{namespace}.svc.cluster.local"]), []);
  const list = trustedProxyList(["10.0.0.0/8", "fd00::/8"]);
  assert.ok(list?.check("10.1.2.3", "ipv4"));
  assert.ok(!list?.check("11.1.2.3", "ipv4"));
  assert.ok(list?.check("fd00::1", "ipv6"));
  assert.equal(trustedProxyList([]), undefined);
});

test("every flag also from RECLAIMER_*, flags win, problems name where the value came from", () => {
  const c = loadWakerConfig(["--max-held-requests", "7"], {
    RECLAIMER_DAEMON_URL: "http://d:8080",
    RECLAIMER_MAX_HELD_REQUESTS: "9",
    RECLAIMER_MAX_BODY_BYTES: "1Mi",
    RECLAIMER_LISTEN: "127.0.0.1:0",
    RECLAIMER_HOLD_TIMEOUT: "10m",
  });
  assert.equal(c.daemonUrl, "http://d:8080");
  assert.equal(c.maxHeldRequests, 7);
  assert.equal(c.maxBodyBytes, 1024 * 1024);
  assert.deepEqual(c.listen, { host: "127.0.0.1", port: 0 });
  assert.equal(c.holdTimeoutMs, 600_000);
  assert.match(problems(base, { RECLAIMER_MAX_HELD_BYTES: "lots" }).join("\n"), /^RECLAIMER_MAX_HELD_BYTES: /);
});

test("the worst values of every number, size and address: each one problem, all listed at once", () => {
  const bad = [
    "--listen=8080",
    "--metrics-addr=:70000",
    "--max-held-requests=0",
    "--max-held-bytes=-1",
    "--max-body-bytes=NaN",
    "--hold-timeout=1s",
    "--upstream-template=ftp://{name}",
    "--log-level=loud",
    "--daemon-url=not a url",
    "--bogus",
  ];
  const p = problems(bad);
  assert.equal(p.length, bad.length, p.join("\n"));
  assert.equal(problems([]).length, 1, "--daemon-url is required");
  for (const v of ["", " ", "1e3", "1.5", "100001", "99999999999999999999", "Infinity", "0x10", "\u001b[31m5"])
    assert.equal(problems([...base, `--max-held-requests=${v}`]).length, 1, JSON.stringify(v));
  for (const v of ["", "0", "1", "63Ki", "17Gi", "1Ti", "1.5Mi", "9".repeat(30), "8 Mi", "8mi"])
    assert.equal(problems([...base, `--max-held-bytes=${v}`]).length, 1, JSON.stringify(v));
  assert.equal(problems([...base, "--max-body-bytes=2Gi"]).length, 1);
  assert.match(problems([...base, "--max-held-bytes=64Ki", "--max-body-bytes=1Mi"]).join(""), /at most --max-held-bytes/);
  assert.equal(problems([...base, "--hold-timeout=31m"]).length, 1);
  assert.equal(problems([...base, "--daemon-url=http://user:pw@d:8080"]).length, 1);
  assert.equal(problems([...base, "extra"]).length, 1);
  // a 10 KB value is reported, not echoed whole
  const long = problems([...base, `--max-held-bytes=${"x".repeat(10_240)}`]);
  assert.ok((long[0] as string).length < 200);
});

test("sizes as Kubernetes writes them", () => {
  assert.equal(parseSize("8Mi"), 8 * 1024 * 1024);
  assert.equal(parseSize("512Ki"), 512 * 1024);
  assert.equal(parseSize("1G"), 1e9);
  assert.equal(parseSize("1048576"), 1048576);
  for (const bad of ["", "Mi", "-1Mi", "1.5Gi", "1Ti", "1e9", `${"9".repeat(25)}`]) assert.ok(Number.isNaN(parseSize(bad)), bad);
});

test("the upstream template: only {name} and {namespace}, an http(s) URL, the service's labels filled in", () => {
  assert.deepEqual(templateProblems("http://{name}-predictor.{namespace}.svc.cluster.local"), []);
  assert.deepEqual(templateProblems("http://127.0.0.1:8000/v1/namespaces/{namespace}/inferenceservices/{name}"), []);
  assert.equal(templateProblems("http://{host}/").length, 1);
  assert.equal(templateProblems("file:///{name}").length, 1);
  assert.equal(templateProblems("http://a:b@{name}/").length, 1);
  assert.equal(templateProblems("http://{name}/?x=1").length, 1);
  assert.ok(templateProblems("not a url {name}").length >= 1);
  assert.equal(
    fillTemplate("http://{name}-predictor.{namespace}.svc", { namespace: "ml", name: "llm" }).href,
    "http://llm-predictor.ml.svc/",
  );
});
