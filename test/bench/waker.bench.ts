// Benchmark (issue 13): the waker's cost. No cluster: the fake model server (the traffic
// simulator's OpenAI endpoints, `simulator-main.ts --ready`) and the waker (`kserve-reclaimer
// waker`) run as their own processes, a fake daemon (the one of the unit tests, by the contract)
// and the load generator in this one.
//  1. A RUNNING service: p50/p99 latency of small non-streamed chat completions sent straight to
//     the model server and through the waker, interleaved in blocks in one run; then requests/s of
//     both at a few concurrencies (keep-alive connections, one per concurrent client).
//  2. A STOPPED service: RSS and V8 heap of a fresh waker process before and while it holds 1,000
//     requests with ~1 KB bodies each, and after they are answered.
//  3. The default caps' worst case: 1,000 requests of 63 KiB bodies (64 MiB of held bytes).
// Prints figures; asserts nothing about speed.
//
//   node test/bench/waker.bench.ts      knobs: BENCH_WAKER_N (latency requests per path, 4000),
//   BENCH_WAKER_SECONDS (per concurrency, 3), BENCH_WAKER_CONCURRENCY (1,8,32,128), BENCH_WAKER_HELD (1000)
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { FakeDaemon, tokenFile } from "../unit/wake/fake-daemon.ts";
import { envList, envNumber, log, machine, metricSum, printTable, procStats, quantile, ROOT, writeResult } from "./lib.ts";

const N = envNumber("BENCH_WAKER_N", 4000);
const SECONDS = envNumber("BENCH_WAKER_SECONDS", 3);
const CONCURRENCY = envList("BENCH_WAKER_CONCURRENCY", [1, 8, 32, 128]);
const HELD = envNumber("BENCH_WAKER_HELD", 1000);
const HOST = "llm-ml.example.com";
const BODY = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });

type Proc = { child: ChildProcess; output: string; pid: number };

function start(args: string[], ready: (output: string) => RegExpExecArray | null): Promise<Proc & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const p = { child, output: "", pid: child.pid ?? 0 };
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      p.output += String(c);
      const m = ready(p.output);
      if (m !== null) resolve({ ...p, match: m });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${p.output.slice(-2000)}`)));
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  p.child.kill("SIGTERM");
  await exited;
}

async function startWaker(
  daemonUrl: string,
  template: string,
  extra: string[] = [],
): Promise<Proc & { port: number; metricsPort: number }> {
  const p = await start(
    [
      "src/cli/entry.ts",
      "waker",
      "--listen=127.0.0.1:0",
      "--metrics-addr=127.0.0.1:0",
      `--daemon-url=${daemonUrl}`,
      `--token-file=${tokenFile("waker-token")}`,
      `--upstream-template=${template}`,
      `--max-held-requests=${Math.max(1000, HELD)}`,
      ...extra,
    ],
    (out) => /"waker listening".*"port":(\d+),"metricsPort":(\d+)/.exec(out),
  );
  return { ...p, port: Number(p.match[1]), metricsPort: Number(p.match[2]) };
}

type Target = { port: number; path: string; host?: string };

function once(agent: Agent, t: Target, body = BODY): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: t.port,
        method: "POST",
        path: t.path,
        agent,
        headers: { "content-type": "application/json", ...(t.host === undefined ? {} : { host: t.host }) },
      },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function timed(agent: Agent, t: Target): Promise<number> {
  const t0 = process.hrtime.bigint();
  await once(agent, t);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function throughput(t: Target, concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await once(agent, t);
        done += 1;
      }
    }),
  );
  agent.destroy();
  return done / SECONDS;
}

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

const daemon = new FakeDaemon();
daemon.delayMs = 0;
await daemon.start();
daemon.services.set(HOST, { namespace: "ml", name: "llm", state: "ready", timeoutSeconds: 600, maxHeldRequests: 10_000 });
const procs: Proc[] = [];
try {
  const sim = await start(["test/support/simulator-main.ts", "--port=0", "--ready", "ml/llm", "--chunk-delay-ms=0"], (out) =>
    /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out),
  );
  procs.push(sim);
  const simPort = Number(sim.match[1]);
  const template = `http://127.0.0.1:${simPort}/v1/namespaces/{namespace}/inferenceservices/{name}`;
  const waker = await startWaker(daemon.url, template);
  procs.push(waker);
  const direct: Target = { port: simPort, path: "/v1/namespaces/ml/inferenceservices/llm/v1/chat/completions" };
  const through: Target = { port: waker.port, path: "/v1/chat/completions", host: HOST };

  // 1a. latency, sequential, interleaved blocks so drift hits both paths alike
  log(`latency: ${N} requests per path, sequential, keep-alive`);
  const agentD = new Agent({ keepAlive: true, maxSockets: 1 });
  const agentW = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 300; i++) {
    await timed(agentD, direct);
    await timed(agentW, through);
  }
  const lat = { direct: [] as number[], waker: [] as number[] };
  const BLOCK = 200;
  for (let done = 0; done < N; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) lat.direct.push(await timed(agentD, direct));
    for (let i = 0; i < BLOCK; i++) lat.waker.push(await timed(agentW, through));
  }
  agentD.destroy();
  agentW.destroy();
  const sortD = [...lat.direct].sort((a, b) => a - b);
  const sortW = [...lat.waker].sort((a, b) => a - b);
  const latency = {
    direct: { p50: quantile(sortD, 0.5), p90: quantile(sortD, 0.9), p99: quantile(sortD, 0.99) },
    waker: { p50: quantile(sortW, 0.5), p90: quantile(sortW, 0.9), p99: quantile(sortW, 0.99) },
  };
  printTable(`Latency of one small chat completion, running service, ${N} sequential requests per path (ms)`, [
    { path: "direct to the model server", "p50 (ms)": latency.direct.p50, "p90 (ms)": latency.direct.p90, "p99 (ms)": latency.direct.p99 },
    { path: "through the waker", "p50 (ms)": latency.waker.p50, "p90 (ms)": latency.waker.p90, "p99 (ms)": latency.waker.p99 },
    {
      path: "added by the waker",
      "p50 (ms)": latency.waker.p50 - latency.direct.p50,
      "p90 (ms)": latency.waker.p90 - latency.direct.p90,
      "p99 (ms)": latency.waker.p99 - latency.direct.p99,
    },
  ]);

  // 1b. throughput at a few concurrencies
  const rates: Record<string, number | string>[] = [];
  for (const c of CONCURRENCY) {
    log(`throughput: concurrency ${c}, ${SECONDS} s per path`);
    const d = await throughput(direct, c);
    const w = await throughput(through, c);
    rates.push({ concurrency: c, "direct (req/s)": Math.round(d), "waker (req/s)": Math.round(w), "waker/direct": (w / d).toFixed(2) });
  }
  printTable(
    `Requests/s, running service, ${SECONDS} s per concurrency and path (2 cores shared by client, waker and model server)`,
    rates,
  );
  const wakeCalls = metricSum(await metrics(waker.metricsPort), "kserve_reclaimer_waker_wake_requests_total");
  log(`daemon calls during the running-service runs: ${wakeCalls} (Ready answers reused for 5 s)`);
  await stop(waker);

  // 2. memory while holding requests for a stopped service, on a fresh waker
  daemon.services.get(HOST)!.state = "stopped";
  const fresh = await startWaker(daemon.url, template);
  procs.push(fresh);
  await new Promise((r) => setTimeout(r, 1000));
  const heapOf = async () => metricSum(await metrics(fresh.metricsPort), "nodejs_heap_size_used_bytes") / 2 ** 20;
  const before = { rss: procStats(fresh.pid).rssMiB, heap: await heapOf() };
  const body = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "x".repeat(1024 - 60) }] });
  log(`memory: ${HELD} requests with ${Buffer.byteLength(body)}-byte bodies for a stopped service`);
  const heldAgent = new Agent({ keepAlive: false, maxSockets: HELD });
  const pending = Array.from({ length: HELD }, () => once(heldAgent, { ...through, port: fresh.port }, body).catch((e: unknown) => e));
  const t0 = Date.now();
  for (;;) {
    const text = await metrics(fresh.metricsPort);
    if (metricSum(text, "kserve_reclaimer_waker_held_requests") >= HELD) break;
    if (Date.now() - t0 > Number(process.env["BENCH_WAKER_HOLD_WAIT_MS"] ?? 60_000)) {
      const answered = await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 100, "still pending"))]);
      throw new Error(
        `not all held after 60 s: ${metricSum(text, "kserve_reclaimer_waker_held_requests")}; ${String(answered).slice(0, 300)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const holdAt = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 2000)); // a few polls of the daemon while holding
  const holding = { rss: procStats(fresh.pid).rssMiB, heap: await heapOf() };
  daemon.services.get(HOST)!.state = "ready";
  const results = await Promise.all(pending);
  const ok = results.filter((r) => r === 200).length;
  const firstByte = metricSum(await metrics(fresh.metricsPort), "kserve_reclaimer_waker_first_byte_seconds_sum") / HELD;
  await new Promise((r) => setTimeout(r, 1000));
  const after = { rss: procStats(fresh.pid).rssMiB, heap: await heapOf(), peakRss: procStats(fresh.pid).peakRssMiB };
  heldAgent.destroy();
  printTable(`Memory of the waker process holding ${HELD} requests (~1 KB body each) for a stopped service (MiB)`, [
    { when: "idle, before", "RSS (MiB)": before.rss, "heap used (MiB)": before.heap },
    { when: `holding ${HELD}`, "RSS (MiB)": holding.rss, "heap used (MiB)": holding.heap },
    { when: "delta while holding", "RSS (MiB)": holding.rss - before.rss, "heap used (MiB)": holding.heap - before.heap },
    { when: `after all forwarded (${ok}/${HELD} 200)`, "RSS (MiB)": after.rss, "heap used (MiB)": after.heap },
  ]);
  log(
    `all ${HELD} held after ${holdAt} ms; per held request: ${(((holding.rss - before.rss) * 1024) / HELD).toFixed(1)} KiB RSS, ${(((holding.heap - before.heap) * 1024) / HELD).toFixed(1)} KiB heap; mean first byte ${firstByte.toFixed(2)} s; peak RSS ${after.peakRss.toFixed(1)} MiB; wake episodes ${daemon.episodes}, daemon POSTs ${daemon.posts}`,
  );
  await stop(fresh);

  // 3. the defaults' worst case: --max-held-requests (1,000) requests whose bodies fill --max-held-bytes
  // (64 MiB), the bound stated next to the flags and the basis of the Deployment's memory limit
  daemon.services.get(HOST)!.state = "stopped";
  const capped = await startWaker(daemon.url, template, ["--max-held-requests=1000"]);
  procs.push(capped);
  await new Promise((r) => setTimeout(r, 1000));
  const capBefore = procStats(capped.pid).rssMiB;
  const bigBody = JSON.stringify({ model: "llm", prompt: "x".repeat(64 * 1024 - 1024 - 40) });
  const capAgent = new Agent({ keepAlive: false, maxSockets: 1000 });
  log(`memory at the caps: 1000 requests with ${Buffer.byteLength(bigBody)}-byte bodies (the hold takes what fits in 64 MiB)`);
  const capPending = Array.from({ length: 1000 }, () =>
    once(capAgent, { ...through, port: capped.port }, bigBody).then(
      () => 200,
      (e: unknown) => String(e),
    ),
  );
  let capPeak = capBefore;
  let capHeld = 0;
  const capStart = Date.now();
  for (;;) {
    capPeak = Math.max(capPeak, procStats(capped.pid).rssMiB);
    const text = await metrics(capped.metricsPort);
    capHeld = metricSum(text, "kserve_reclaimer_waker_held_requests");
    const refused = metricSum(text, "kserve_reclaimer_waker_rejected_requests_total", { cause: "queue_full" });
    if (capHeld + refused >= 1000 || Date.now() - capStart > 60_000) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  capPeak = Math.max(capPeak, procStats(capped.pid).rssMiB);
  daemon.services.get(HOST)!.state = "ready";
  const capResults = await Promise.all(capPending);
  capAgent.destroy();
  const capHwm = procStats(capped.pid).peakRssMiB;
  printTable("Memory of the waker at its default caps: 1,000 requests, 64 MiB of bodies (MiB)", [
    { when: "idle, before", "RSS (MiB)": capBefore },
    { when: `holding ${capHeld} (the rest answered 503 queue_full)`, "RSS (MiB)": capPeak },
    { when: `peak over the run, forwarding included (${capResults.filter((r) => r === 200).length} forwarded)`, "RSS (MiB)": capHwm },
  ]);
  await stop(capped);

  writeResult(process.env["BENCH_RESULT_NAME"] ?? "waker", {
    benchmark: "waker",
    machine: machine(),
    latencyMs: { requestsPerPath: N, ...latency },
    throughput: rates,
    memory: {
      held: HELD,
      bodyBytes: Buffer.byteLength(body),
      beforeMiB: before,
      holdingMiB: holding,
      afterMiB: after,
      forwarded: ok,
      holdAtMs: holdAt,
    },
    atCaps: { beforeMiB: capBefore, holdingMiB: capPeak, held: capHeld, peakMiB: capHwm },
    wakeEpisodes: daemon.episodes,
  });
} finally {
  for (const p of procs.reverse()) await stop(p);
  await daemon.stop();
}
