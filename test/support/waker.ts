// Runs the real waker entrypoint (`node src/cli/entry.ts waker ...`, the published bin's path) as a child process for
// integration tests and the demo, on free loopback ports, and makes sure it never outlives the
// test process.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./processes.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/entry.ts", import.meta.url));

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export type WakerOptions = {
  daemonUrl: string;
  tokenFile: string;
  /** Where a Ready service's requests go. kwok pods have no network, so tests point every service at the simulator's model server. */
  upstreamTemplate: string;
  extraArgs?: string[];
  /** Log file (appended), e.g. next to the cluster's component logs. */
  logFile?: string;
  /** What start() waits for: /readyz answering 200 (default), or only the "waker listening" line (a waker meant to be not ready). */
  waitFor?: "ready" | "listening";
};

export class WakerProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly metricsUrl: string;
  #output = "";
  #exited: Promise<number | null>;

  private constructor(proc: ChildProcess, port: number, metricsPort: number, logFile: string | undefined) {
    this.proc = proc;
    this.url = `http://127.0.0.1:${port}`;
    this.metricsUrl = `http://127.0.0.1:${metricsPort}`;
    running.add(proc);
    this.#exited = new Promise((resolve) =>
      proc.on("exit", (code) => {
        running.delete(proc);
        resolve(code);
      }),
    );
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      this.#output = (this.#output + chunk).slice(-20_000);
      if (logFile) appendFileSync(logFile, chunk);
    });
  }

  static async start(opts: WakerOptions): Promise<WakerProcess> {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const proc = spawn(
      process.execPath,
      [
        MAIN,
        "waker",
        "--listen",
        `127.0.0.1:${port}`,
        "--metrics-addr",
        `127.0.0.1:${metricsPort}`,
        "--daemon-url",
        opts.daemonUrl,
        "--token-file",
        opts.tokenFile,
        "--upstream-template",
        opts.upstreamTemplate,
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const waker = new WakerProcess(proc, port, metricsPort, opts.logFile);
    if (opts.waitFor === "listening") await waker.#waitListening();
    else await waker.#waitReady();
    return waker;
  }

  async #waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) break;
      try {
        if ((await fetch(`${this.metricsUrl}/readyz`)).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`waker not ready within ${timeoutMs} ms (exit ${this.proc.exitCode}); output:\n${this.#output.slice(-3000)}`);
  }

  async #waitListening(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.proc.exitCode === null) {
      if (this.#output.includes('"waker listening"')) return;
      await sleep(50);
    }
    throw new Error(`waker not listening within ${timeoutMs} ms (exit ${this.proc.exitCode}); output:\n${this.#output.slice(-3000)}`);
  }

  output(): string {
    return this.#output;
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.metricsUrl}/metrics`)).text();
  }

  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.#exited;
  }
}
