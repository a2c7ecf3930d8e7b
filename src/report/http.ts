// The daemon's small HTTP server: /metrics, /healthz (liveness), /readyz (readiness).
// Checks are callbacks so this module knows nothing of informers or timers; a callback that
// throws or rejects counts as failing, with its error as the problem.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type CheckResult = { ok: boolean; problems: string[] };
export type Check = () => CheckResult | Promise<CheckResult>;

export type MetricsSource = { readonly contentType: string; render(): Promise<string> };

export type ReportServerOptions = {
  metrics: MetricsSource;
  /** Liveness: the process loop runs and the informer watchdog is not stale. */
  health: Check;
  /** Readiness: caches synced and timers armed. */
  ready: Check;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default "0.0.0.0" (all IPv4 interfaces); "::" for dual stack, "127.0.0.1" for local only. */
  host?: string;
  /**
   * More endpoints on the same port (the wake API), asked in order before the built-in ones: each
   * answers and resolves true for the requests it owns, or resolves false and writes nothing.
   */
  handlers?: readonly ExtraHandler[];
};

export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export type ReportServer = { port: number; address: string; close(): Promise<void> };

/** The server could not listen: a port in use, a host that is not local, no permission. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  readonly code: string | undefined;
  /** The flag that chose the address, for the message that tells the user what to change. */
  readonly flag: string;
  constructor(address: string, cause: unknown, flag = "--metrics-addr") {
    const code = (cause as { code?: unknown } | null)?.code;
    const reasons: Record<string, string> = {
      EADDRINUSE: "address in use",
      EADDRNOTAVAIL: "address not available on this host",
      EACCES: "permission denied",
      ENOTFOUND: "host not found",
    };
    const why = typeof code === "string" ? (reasons[code] ?? code) : cause instanceof Error ? cause.message : String(cause);
    super(`cannot listen on ${address}: ${why}`, { cause });
    this.code = typeof code === "string" ? code : undefined;
    this.flag = flag;
  }
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

async function runCheck(check: Check): Promise<CheckResult> {
  try {
    const result = await check();
    return { ok: result.ok, problems: result.problems };
  } catch (error) {
    return { ok: false, problems: [`check failed: ${error instanceof Error ? error.message : String(error)}`] };
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(head ? undefined : body);
}

async function handle(options: ReportServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const extra of options.handlers ?? []) if (await extra(req, res)) return;
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const head = req.method === "HEAD";
  if (req.method !== "GET" && !head) {
    res.setHeader("allow", "GET, HEAD");
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", false);
    return;
  }
  if (path === "/metrics") {
    try {
      send(res, 200, options.metrics.contentType, await options.metrics.render(), head);
    } catch (error) {
      send(res, 500, "text/plain; charset=utf-8", `metrics: ${error instanceof Error ? error.message : String(error)}\n`, head);
    }
    return;
  }
  if (path === "/healthz" || path === "/readyz") {
    const result = await runCheck(path === "/healthz" ? options.health : options.ready);
    const body = result.ok
      ? "ok\n"
      : `not ${path === "/healthz" ? "healthy" : "ready"}:\n${result.problems.map((p) => `- ${p}\n`).join("")}`;
    send(res, result.ok ? 200 : 503, "text/plain; charset=utf-8", body, head);
    return;
  }
  send(res, 404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n", head);
}

export async function startReportServer(options: ReportServerOptions): Promise<ReportServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `${String(error)}\n`, false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 30_000;
  const host = options.host ?? "0.0.0.0";
  const port = options.port ?? 8080;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(new ListenError(hostPort(host, port), error)));
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    address: address.address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
