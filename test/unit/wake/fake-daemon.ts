// A small real HTTP server that plays the daemon's side of the wake API by the contract, for the
// waker's tests: a bearer token, hosts of services with a state the test sets, and counts of what
// the waker asked (POSTs, those that found the service stopped, the most in flight at once).
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonClient } from "../../../src/wake/daemonClient.ts";
import { WakerMetrics } from "../../../src/wake/metrics.ts";
import { startWaker, type Waker, type WakerOptions } from "../../../src/wake/server.ts";
import { createLogger } from "../../../src/report/log.ts";

export type FakeService = {
  namespace: string;
  name: string;
  /** stopped: the daemon stopped it (a POST starts it); starting; ready; refused: a person stopped it. */
  state: "stopped" | "starting" | "ready" | "refused";
  timeoutSeconds?: number;
  maxHeldRequests?: number;
  retryAfterSeconds?: number;
};

export class FakeDaemon {
  readonly services = new Map<string, FakeService>();
  token = "waker-token";
  posts = 0;
  /** POSTs that found the service stopped: each is one wake episode (one start). */
  episodes = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Delay of every answer, so calls stay in flight long enough to overlap. */
  delayMs = 20;
  /** Answer this status instead (503 not the leader, 500...), while set. */
  failWith: number | undefined;
  tokensSeen: string[] = [];
  server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      this.#handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let text = "";
    for await (const c of req) text += String(c);
    if (req.method !== "POST" || req.url !== "/wake/v1/requests") return { status: 404, body: { error: "not found" } };
    const auth = req.headers.authorization ?? "";
    this.tokensSeen.push(auth);
    if (auth !== `Bearer ${this.token}`) return { status: 401, body: { error: "invalid token" } };
    this.posts += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failWith !== undefined) return { status: this.failWith, body: { error: "not the leader" } };
      const host = (JSON.parse(text) as { host: string }).host;
      const s = this.services.get(host);
      if (s === undefined) return { status: 404, body: { error: `no wake-enabled InferenceService has host ${host}` } };
      if (s.state === "stopped") {
        this.episodes += 1;
        s.state = "starting";
      }
      const state = s.state === "ready" ? "Ready" : s.state === "refused" ? "Refused" : "Starting";
      return {
        status: 200,
        body: {
          namespace: s.namespace,
          name: s.name,
          state,
          timeoutSeconds: s.timeoutSeconds ?? 300,
          maxHeldRequests: s.maxHeldRequests ?? 100,
          retryAfterSeconds: s.retryAfterSeconds ?? 7,
          message: state === "Refused" ? `${s.namespace}/${s.name} was stopped by a person` : `${s.namespace}/${s.name} is ${state}`,
        },
      };
    } finally {
      this.inFlight -= 1;
    }
  }
}

export function tokenFile(token: string): string {
  const dir = mkdtempSync(join(tmpdir(), "waker-token-"));
  const file = join(dir, "token");
  writeFileSync(file, `${token}\n`);
  return file;
}

export type TestWaker = { waker: Waker; metrics: WakerMetrics; client: DaemonClient; logs: string[] };

export async function testWaker(
  daemonUrl: string,
  upstreamTemplate: string,
  options: Partial<WakerOptions> & { tokenFile?: string; readyCacheMs?: number } = {},
): Promise<TestWaker> {
  const metrics = new WakerMetrics({ defaultMetrics: false });
  const client = new DaemonClient({
    daemonUrl,
    tokenFile: options.tokenFile ?? tokenFile("waker-token"),
    now: Date.now,
    readyCacheMs: options.readyCacheMs ?? 5_000,
    onCall: () => metrics.wakeRequest(),
  });
  const logs: string[] = [];
  const waker = await startWaker(
    {
      daemon: client,
      upstreamTemplate,
      metrics,
      log: createLogger("debug", (l) => logs.push(l)),
      now: Date.now,
      maxHeldRequests: 1000,
      maxHeldBytes: 64 * 1024 * 1024,
      maxBodyBytes: 1024 * 1024,
      holdTimeoutMs: 30_000,
      pollIntervalMs: 40,
      retryConnectMs: 40,
      ...options,
    },
    { host: "127.0.0.1", port: 0 },
  );
  return { waker, metrics, client, logs };
}

export type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One request with any Host header (fetch does not let a test choose it), on a fresh connection. */
export function send(
  port: number,
  host: string | undefined,
  o: { method?: string; path?: string; body?: string | Buffer; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: o.method ?? "POST",
        path: o.path ?? "/v1/chat/completions",
        setHost: false,
        agent: false,
        headers: { ...(host === undefined ? {} : { host }), ...(o.headers ?? {}) },
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
