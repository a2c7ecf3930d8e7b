// `run` configuration that would leak or could not work is refused at start-up with one problem per
// line: credentials over plain http or unverified TLS, a URL that is not http(s) (never echoing its
// password), a port out of range; and custom queries are off unless the admin turns them on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadDaemonConfig, exposedCredentials } from "../../../src/daemon/config.ts";

function problems(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadDaemonConfig(args, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return [];
}

const TOKEN = ["--prometheus-bearer-token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token"];

test("credentials over plain http are refused unless explicitly allowed", () => {
  const cases: string[][] = [
    ["--prometheus-url", "http://prometheus:9090", ...TOKEN],
    ["--prometheus-url", "http://prometheus:9090", "--prometheus-basic-auth-user", "me", "--prometheus-basic-auth-password-file", "/p"],
    ["--prometheus-url", "http://prometheus:9090", "--prometheus-header", "Authorization: Bearer abc"],
    ["--prometheus-url", "http://prometheus:9090", "--prometheus-header", "authorization:Basic abc"],
    ["--prometheus-url", "http://me:secret@prometheus:9090"],
  ];
  for (const args of cases) {
    const found = problems(args);
    assert.equal(found.length, 1, `${args.join(" ")}: ${found.join(" | ")}`);
    assert.match(found[0] ?? "", /^Prometheus credentials would be sent over plain http:\/\//, args.join(" "));
    assert.match(found[0] ?? "", /--prometheus-allow-insecure-credentials/);
    assert.doesNotMatch(found[0] ?? "", /secret|abc/);
    assert.deepEqual(problems([...args, "--prometheus-allow-insecure-credentials"]), [], args.join(" "));
  }
  assert.deepEqual(
    problems([], {
      RECLAIMER_PROMETHEUS_URL: "http://p:9090",
      RECLAIMER_PROMETHEUS_BEARER_TOKEN_FILE: "/t",
      RECLAIMER_PROMETHEUS_ALLOW_INSECURE_CREDENTIALS: "true",
    }),
    [],
  );
  assert.equal(problems([], { RECLAIMER_PROMETHEUS_URL: "http://p:9090", RECLAIMER_PROMETHEUS_BEARER_TOKEN_FILE: "/t" }).length, 1);
});

test("credentials to a server whose certificate is not verified are refused too", () => {
  const args = ["--prometheus-url", "https://thanos:9091", ...TOKEN, "--prometheus-insecure-skip-verify", "true"];
  const found = problems(args);
  assert.equal(found.length, 1);
  assert.match(found[0] ?? "", /not verified \(--prometheus-insecure-skip-verify\): a bearer token/);
  assert.deepEqual(problems([...args, "--prometheus-allow-insecure-credentials"]), []);
});

test("what is not a credential over http, or credentials over verified https, is fine", () => {
  assert.deepEqual(problems(["--prometheus-url", "http://prometheus:9090"]), []);
  assert.deepEqual(problems(["--prometheus-url", "http://prometheus:9090", "--prometheus-header", "X-Scope-OrgID: ml"]), []);
  assert.deepEqual(problems(["--prometheus-url", "https://thanos:9091", ...TOKEN]), []);
  assert.deepEqual(problems(["--prometheus-url", "http://prometheus:9090", "--prometheus-insecure-skip-verify", "true"]), []);
  // A token file with no Prometheus URL sends nothing (the Helm chart passes it regardless).
  assert.deepEqual(problems([...TOKEN]), []);
  const config = loadDaemonConfig(["--prometheus-url", "http://p:9090", ...TOKEN, "--prometheus-allow-insecure-credentials"], {});
  assert.match(exposedCredentials(config) ?? "", /bearer token/);
});

test("--prometheus-url must be http(s), and its password is never echoed", () => {
  for (const url of ["ftp://me:s3cret@prometheus/", "file:///etc/passwd", "javascript:alert(1)", "me:s3cret@prometheus:9090"]) {
    const found = problems(["--prometheus-url", url]);
    assert.equal(found.length, 1, url);
    assert.match(found[0] ?? "", /^--prometheus-url: .* must be an http:\/\/ or https:\/\/ URL$/, url);
    assert.doesNotMatch(found[0] ?? "", /s3cret/);
  }
  for (const url of ["not a url", "http://me:s3/cret@[", ""]) {
    const found = problems(["--prometheus-url", url]);
    if (url === "") continue; // an empty flag value is "not set", like an empty env variable
    assert.deepEqual(found, ["--prometheus-url is not a valid URL (value not shown, it may contain a password)"], url);
  }
  assert.deepEqual(problems(["--prometheus-url", "ftp://u:p@h/"]), [
    '--prometheus-url: "ftp://<redacted>@h/" must be an http:// or https:// URL',
  ]);
});

test("--metrics-addr: a port in 0-65535, one line per problem", () => {
  assert.deepEqual(problems(["--metrics-addr", ":99999"]), ["--metrics-addr: port 99999 is not in 0-65535"]);
  assert.deepEqual(problems(["--metrics-addr", "127.0.0.1:123456"]), ["--metrics-addr: port 123456 is not in 0-65535"]);
  assert.deepEqual(problems(["--metrics-addr", "8080"]), ['--metrics-addr: "8080" must be host:port or :port']);
  assert.deepEqual(problems(["--metrics-addr", ":"]), ['--metrics-addr: ":" must be host:port or :port']);
  for (const ok of [":0", ":65535", "127.0.0.1:8080", ":8080"]) assert.deepEqual(problems(["--metrics-addr", ok]), [], ok);
  const two = problems(["--metrics-addr", ":70000", "--prometheus-url", "gopher://h"]);
  assert.equal(two.length, 2);
  for (const p of two) assert.doesNotMatch(p, /\n/);
});

test("custom queries are off by default; the flag and RECLAIMER_ALLOW_CUSTOM_QUERIES turn them on", () => {
  assert.equal(loadDaemonConfig([], {}).allowCustomQueries, false);
  assert.equal(loadDaemonConfig(["--allow-custom-queries"], {}).allowCustomQueries, true);
  assert.equal(loadDaemonConfig([], { RECLAIMER_ALLOW_CUSTOM_QUERIES: "true" }).allowCustomQueries, true);
  assert.equal(loadDaemonConfig([], {}).customQueryNamespaceLabel, "namespace");
  assert.equal(
    loadDaemonConfig(["--custom-query-namespace-label", "k8s_namespace_name"], {}).customQueryNamespaceLabel,
    "k8s_namespace_name",
  );
  assert.deepEqual(problems(["--custom-query-namespace-label", "name space"]), [
    "--custom-query-namespace-label must be a Prometheus label name",
  ]);
});
