// A real Prometheus for tests: Debian's /usr/bin/prometheus on a free loopback port, with a temporary
// config and data directory, scraping the given targets every second. Stopped by pid.
// Standalone on purpose (node: modules only) so the cluster harness can reuse it.
//
//   const prom = await startPrometheus({ scrapeTargets: ['127.0.0.1:9400'] });
//   ... prom.url ...
//   await prom.stop();
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, openSync, closeSync, readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type StartPrometheusOptions = {
  /** "host:port" targets scraped at /metrics, in one job "test". */
  scrapeTargets: string[];
  /** Default "1s" (also the scrape timeout and evaluation interval). */
  scrapeInterval?: string;
  /** Listen port; default a free one on 127.0.0.1. */
  port?: number;
  /** Binary; default $PROMETHEUS_BIN, else `prometheus` on PATH. */
  binary?: string;
  /** How long to wait for /-/ready. Default 30 s. */
  readyTimeoutMs?: number;
  /** Serve HTTPS (Prometheus' --web.config.file); with clientCaFile, client certificates are required. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
};

export type RunningPrometheus = {
  url: string;
  port: number;
  pid: number;
  dir: string;
  logPath: string;
  /** SIGTERM, SIGKILL after 5 s; removes the directory. Idempotent. */
  stop(): Promise<void>;
};

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

export function findPrometheus(): string | undefined {
  if (process.env["PROMETHEUS_BIN"]) return process.env["PROMETHEUS_BIN"];
  try {
    return execFileSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export async function startPrometheus(opts: StartPrometheusOptions): Promise<RunningPrometheus> {
  const binary = opts.binary ?? findPrometheus();
  if (!binary) throw new Error("prometheus is not installed: apt-get update && apt-get install -y prometheus");
  const interval = opts.scrapeInterval ?? "1s";
  const port = opts.port ?? (await freeLoopbackPort());
  const dir = mkdtempSync(join(tmpdir(), "kserve-reclaimer-prometheus-"));
  const configPath = join(dir, "prometheus.yml");
  const logPath = join(dir, "prometheus.log");
  writeFileSync(
    configPath,
    [
      "global:",
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      "scrape_configs:",
      "  - job_name: test",
      "    static_configs:",
      `      - targets: [${opts.scrapeTargets.map((t) => JSON.stringify(t)).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const args: string[] = [];
  if (opts.tls) {
    const webConfig = join(dir, "web.yml");
    writeFileSync(
      webConfig,
      [
        "tls_server_config:",
        `  cert_file: ${JSON.stringify(opts.tls.certFile)}`,
        `  key_file: ${JSON.stringify(opts.tls.keyFile)}`,
        ...(opts.tls.clientCaFile
          ? [`  client_ca_file: ${JSON.stringify(opts.tls.clientCaFile)}`, "  client_auth_type: RequireAndVerifyClientCert"]
          : []),
        "",
      ].join("\n"),
    );
    args.push(`--web.config.file=${webConfig}`);
  }
  const fd = openSync(logPath, "a");
  const child = spawn(
    binary,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
      ...args,
    ],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary}`);
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  // If the test process dies first, do not leave Prometheus behind.
  const onExit = () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.on("exit", onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    if (alive(pid)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
      const deadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      if (alive(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
        while (alive(pid)) await sleep(20);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      const log = readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n");
      await stop();
      throw new Error(`prometheus ${exited}:\n${log}`);
    }
    // With TLS the port accepting connections is enough: callers retry their first query.
    if (opts.tls ? await accepts(port) : await isReady(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready on ${url} after ${opts.readyTimeoutMs ?? 30_000} ms`);
    }
    await sleep(100);
  }
  return { url, port, pid, dir, logPath, stop };
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
