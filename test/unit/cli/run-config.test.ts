// `kserve-reclaimer run` with bad settings, as a process: exit 2 and one line per problem for a bad
// configuration, exit 1 naming the address for a port in use; never "internal error" (exit 70),
// never a stack trace, never a password. No cluster is needed: all of this fails before connecting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MAIN = new URL("../../../src/cli/main.ts", import.meta.url).pathname;

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RECLAIMER_") && k !== "KUBECONFIG"));
}

function run(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, "run", ...args], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

function assertNoCrash(stderr: string): void {
  assert.doesNotMatch(stderr, /internal error|\n\s+at /, stderr);
}

test("a URL that is not http(s) exits 2 with one line, its password redacted", async () => {
  const r = await run(["--prometheus-url", "ftp://reclaimer:hunter2@prometheus:9090/"]);
  assert.equal(r.code, 2, r.stderr);
  assertNoCrash(r.stderr);
  assert.equal(
    r.stderr,
    'kserve-reclaimer run: invalid configuration: --prometheus-url: "ftp://<redacted>@prometheus:9090/" must be an http:// or https:// URL\n',
  );
  assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
});

test("a metrics port out of range exits 2 with one line; two problems are two lines", async () => {
  const r = await run(["--metrics-addr", ":99999"]);
  assert.equal(r.code, 2, r.stderr);
  assertNoCrash(r.stderr);
  assert.equal(r.stderr, "kserve-reclaimer run: invalid configuration: --metrics-addr: port 99999 is not in 0-65535\n");

  const two = await run(["--metrics-addr", ":70000", "--prometheus-url", "gopher://h"]);
  assert.equal(two.code, 2);
  const lines = two.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 2, two.stderr);
  for (const line of lines) assert.match(line, /^kserve-reclaimer run: invalid configuration: --/);
});

test("a bearer token over plain http exits 2 unless allowed", async () => {
  const r = await run([
    "--prometheus-url",
    "http://prometheus:9090",
    "--prometheus-bearer-token-file",
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assertNoCrash(r.stderr);
  assert.match(
    r.stderr,
    /^kserve-reclaimer run: invalid configuration: Prometheus credentials would be sent over plain http:\/\/ \(http:\/\/prometheus:9090\/\): a bearer token/,
  );
  assert.equal(r.stderr.trimEnd().split("\n").length, 1);
});

test("a metrics port already in use exits 1 naming the address, before any cluster is contacted", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "run-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Points at a closed port: the daemon must fail on the metrics port before it tries the API server.
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
  );
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;

  const r = await run(["--kubeconfig", kubeconfig, "--metrics-addr", `127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assertNoCrash(r.stderr);
  // The daemon's JSON log ("starting") may come first; the error is the one line that is not JSON.
  const plain = r.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{"));
  assert.deepEqual(plain, [`kserve-reclaimer run: cannot listen on 127.0.0.1:${port}: address in use (--metrics-addr)`]);
});
