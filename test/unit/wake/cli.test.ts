// `kserve-reclaimer waker` as a user runs it: configuration problems listed (exit 2), an address in
// use (exit 1), and the real process serving, reporting /metrics and stopping on SIGTERM.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { main } from "../../../src/cli/main.ts";
import { StaticReadiness, TrafficSimulator } from "../../support/simulator.ts";
import { FakeDaemon, send, tokenFile } from "./fake-daemon.ts";

function recorder() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), now: () => 0 }, out, err };
}

test("configuration problems: every one listed on its own line, exit 2, nothing started", async () => {
  const r = recorder();
  const code = await main(["waker", "--listen=nope", "--max-held-requests=-5", "--max-body-bytes=9Gi", "--hold-timeout=0s"], r.io);
  assert.equal(code, 2);
  const lines = r.err.join("").trimEnd().split("\n");
  assert.equal(lines.length, 5, lines.join("\n"));
  for (const l of lines) assert.match(l, /^kserve-reclaimer waker: invalid configuration: /);
  assert.match(r.err.join(""), /--daemon-url is required/);
});

test("help lists every flag with its RECLAIMER_* variable", async () => {
  const r = recorder();
  assert.equal(await main(["help", "waker"], r.io), 0);
  for (const v of ["RECLAIMER_DAEMON_URL", "RECLAIMER_MAX_HELD_BYTES", "RECLAIMER_UPSTREAM_TEMPLATE", "RECLAIMER_TOKEN_FILE"])
    assert.ok(r.out.join("").includes(v), v);
});

test("the waker process: serves a Ready service, /metrics counts it, SIGTERM exits 0; a port in use exits 1", async (t) => {
  const daemon = new FakeDaemon();
  await daemon.start();
  daemon.services.set("llm-ml.example.com", { namespace: "ml", name: "llm", state: "ready" });
  const readiness = new StaticReadiness();
  readiness.set("ml/llm", true);
  const sim = new TrafficSimulator(readiness);
  const simUrl = await sim.listen(0);
  t.after(async () => {
    await daemon.stop();
    await sim.close();
  });
  const token = tokenFile("waker-token");
  const args = [
    "src/cli/main.ts",
    "waker",
    "--listen=127.0.0.1:0",
    "--metrics-addr=127.0.0.1:0",
    `--daemon-url=${daemon.url}`,
    `--token-file=${token}`,
  ];
  const child = spawn(process.execPath, args, {
    cwd: new URL("../../../", import.meta.url),
    env: { ...process.env, RECLAIMER_UPSTREAM_TEMPLATE: `${simUrl}/v1/namespaces/{namespace}/inferenceservices/{name}` },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const started = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    child.stderr.on("data", (c: Buffer) => {
      stderr += String(c);
      const line = stderr.split("\n").find((l) => l.includes('"waker listening"'));
      if (line !== undefined) resolve(JSON.parse(line) as { port: number; metricsPort: number });
    });
    void exited.then(() => reject(new Error(`exited early: ${stderr}`)));
  });
  const r = await send(started.port, "llm-ml.example.com", { body: JSON.stringify({ model: "llm", prompt: "x" }) });
  assert.equal(r.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${started.metricsPort}/metrics`)).text();
  assert.match(metrics, /^kserve_reclaimer_waker_forwarded_requests_total 1$/m);
  assert.match(metrics, /^kserve_reclaimer_waker_held_requests 0$/m);
  assert.match(metrics, /^process_resident_memory_bytes /m);
  assert.equal((await fetch(`http://127.0.0.1:${started.metricsPort}/readyz`)).status, 200);

  // the same port again: exit 1, the flag named
  const busy = spawn(process.execPath, [...args.slice(0, 2), `--listen=127.0.0.1:${started.port}`, ...args.slice(3)], {
    cwd: new URL("../../../", import.meta.url),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let busyErr = "";
  busy.stderr.on("data", (c: Buffer) => (busyErr += String(c)));
  assert.equal(await new Promise((resolve) => busy.on("exit", resolve)), 1);
  assert.match(busyErr, /cannot listen on 127\.0\.0\.1:\d+: address in use \(--listen\)/);

  child.kill("SIGTERM");
  assert.equal(await exited, 0);
  assert.match(stderr, /"msg":"stopped"/);
});
