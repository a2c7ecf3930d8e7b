// A lean HTTP client for the daemon's hot write path (annotation patches at a schedule boundary):
// one keep-alive node:https Agent, a body the caller writes, the response handed back as text.
// @kubernetes/client-node still does configuration and authentication: every `refreshMs` (and at
// once after a 401) it is asked for the TLS material and the auth headers
// (KubeConfig.applyToHTTPSOptions), so rotated tokens (in-cluster token files, re-read by
// client-node) and rotated certificates are picked up; between refreshes a request costs no file
// read, no serializer round trip and no new TLS handshake.
//
// Only for users this can serve faithfully: client certificates, a bearer token, or the
// in-cluster token file. Exec plugins, OIDC/cloud auth providers, basic auth and proxies are left
// to client-node (forConfig returns undefined and the caller keeps its client-node path).
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export type KubeResponse = { status: number; body: string };

/** The most connections warm() opens: the write limiter's concurrency, the most a burst uses at once. */
const MAX_WARM_CONNECTIONS = 64;

/** What an HTTP status >= 300 or a network failure becomes: read by apiFailure (code, body, message). */
export class KubeHttpError extends Error {
  readonly code: number | undefined;
  readonly body: string | undefined;
  constructor(code: number | undefined, body: string | undefined, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeHttpError";
    this.code = code;
    this.body = body;
  }
}

export type KubeHttpOptions = {
  /** How long auth headers and TLS material are reused before asking client-node again. Default 30 s. */
  refreshMs?: number;
  /** Per-request socket inactivity timeout. Default 60 s. */
  timeoutMs?: number;
  now?: () => number;
};

type Session = {
  key: string;
  agent: HttpAgent | HttpsAgent;
  headers: Record<string, string>;
  tls: Pick<RequestOptions, "servername" | "rejectUnauthorized">;
  at: number;
};

type UserLike = { exec?: unknown; authProvider?: { name?: string } | undefined; username?: string; token?: string };

export class KubeHttp {
  private readonly kc: KubeConfig;
  private readonly server: URL;
  private readonly secure: boolean;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private session: Session | undefined;
  private refreshing: Promise<Session> | undefined;
  private warming: Promise<void> | undefined;

  private constructor(kc: KubeConfig, server: URL, opts: KubeHttpOptions) {
    this.kc = kc;
    this.server = server;
    this.secure = server.protocol === "https:";
    this.refreshMs = opts.refreshMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * A client for the KubeConfig's current cluster and user, or undefined when the user or cluster
   * needs client-node's own machinery (exec, auth providers but the in-cluster token file, basic
   * auth, proxies) or the KubeConfig is not a real one (test fakes).
   */
  static forConfig(kc: KubeConfig, opts: KubeHttpOptions = {}): KubeHttp | undefined {
    const k = kc as Partial<KubeConfig>;
    if (typeof k.getCurrentCluster !== "function" || typeof k.getCurrentUser !== "function") return undefined;
    if (typeof k.applyToHTTPSOptions !== "function") return undefined;
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser() as UserLike | null;
    if (!cluster || !user) return undefined;
    if (cluster.proxyUrl) return undefined;
    if (user.exec || user.username) return undefined;
    if (user.authProvider && user.authProvider.name !== "tokenFile") return undefined;
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      return undefined;
    }
    if (server.protocol !== "https:" && server.protocol !== "http:") return undefined;
    return new KubeHttp(kc, server, opts);
  }

  /**
   * Sends one request; resolves with the status and body text of any 2xx, rejects with
   * KubeHttpError otherwise (HTTP status, or undefined for network failures). A 401 is retried
   * once with freshly read credentials.
   */
  async request(method: string, path: string, body?: string, contentType?: string, accept?: string): Promise<KubeResponse> {
    let session = await this.current();
    let res = await this.send(session, method, path, body, contentType, accept);
    if (res.status === 401) {
      // Many requests in flight meet the same rotated token: the first refreshes, the rest reuse it.
      const newer = this.session;
      session = newer !== undefined && newer !== session ? newer : await this.current(true);
      res = await this.send(session, method, path, body, contentType, accept);
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw new KubeHttpError(res.status, res.body, `HTTP ${res.status} ${method} ${path}`);
  }

  /**
   * Gets ready for a burst a few seconds ahead (a schedule boundary): fresh credentials, and up to
   * `connections` keep-alive connections open, each by a `GET /version` (no etcd, no object). A
   * burst on cold connections pays a TLS handshake per connection on both sides at its start, in
   * the very second it is measured by. Never rejects; concurrent calls share one warm-up.
   */
  warm(connections: number): Promise<void> {
    this.warming ??= this.warmUp(connections).finally(() => {
      this.warming = undefined;
    });
    return this.warming;
  }

  private async warmUp(connections: number): Promise<void> {
    try {
      const session = await this.current();
      const wanted = Math.min(MAX_WARM_CONNECTIONS, Math.max(0, Math.floor(connections))) - freeSockets(session.agent);
      if (!(wanted > 0)) return;
      await Promise.allSettled(Array.from({ length: wanted }, () => this.send(session, "GET", "/version", undefined, undefined)));
    } catch {
      // A failed warm-up costs nothing but the handshakes the burst then makes itself.
    }
  }

  /** Closes idle connections (shutdown, tests). */
  close(): void {
    this.session?.agent.destroy();
    this.session = undefined;
  }

  private current(force = false): Promise<Session> {
    const s = this.session;
    if (!force && s !== undefined && this.now() - s.at < this.refreshMs) return Promise.resolve(s);
    if (this.refreshing === undefined) {
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async refresh(): Promise<Session> {
    const o: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(o.headers ?? {})) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : String(value);
    }
    const tls = { servername: o.servername, rejectUnauthorized: o.rejectUnauthorized };
    const key = [o.ca, o.cert, o.key, o.servername, o.rejectUnauthorized].map(material).join("\0");
    const previous = this.session;
    if (previous !== undefined && previous.key === key) {
      // Same TLS material: keep the agent and its connections, take the new headers.
      this.session = { ...previous, headers, at: this.now() };
      return this.session;
    }
    const agentOptions = { keepAlive: true, timeout: this.timeoutMs, scheduling: "lifo" as const };
    const agent = this.secure
      ? new HttpsAgent({ ...agentOptions, ca: o.ca, cert: o.cert, key: o.key, ...definedOnly(tls) })
      : new HttpAgent(agentOptions);
    this.session = { key, agent, headers, tls, at: this.now() };
    if (previous !== undefined) {
      // Rotated certificates: new connections use the new agent; the old one's sockets finish
      // what they carry and are closed a little later.
      const t = setTimeout(() => previous.agent.destroy(), 2 * this.timeoutMs);
      t.unref();
    }
    return this.session;
  }

  private send(
    session: Session,
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    accept = "application/json",
  ) {
    return new Promise<KubeResponse>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...session.headers, accept };
      if (body !== undefined) {
        headers["content-type"] = contentType ?? "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const options: RequestOptions = {
        method,
        protocol: this.server.protocol,
        hostname: this.server.hostname,
        port: this.server.port,
        path: joinPath(this.server.pathname, path),
        agent: session.agent,
        headers,
      };
      const onResponse = (res: import("node:http").IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (err) => reject(networkError(method, path, err)));
      };
      const req = this.secure ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
      req.on("error", (err) => reject(networkError(method, path, err)));
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.end(body);
    });
  }
}

function freeSockets(agent: HttpAgent): number {
  let n = 0;
  for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
  return n;
}

function networkError(method: string, path: string, err: Error): KubeHttpError {
  return new KubeHttpError(undefined, undefined, `${method} ${path}: ${err.message}`, { cause: err });
}

function joinPath(base: string, path: string): string {
  return base === "/" || base === "" ? path : `${base.replace(/\/$/, "")}${path}`;
}

function material(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (Buffer.isBuffer(v)) return v.toString("base64");
  if (Array.isArray(v)) return v.map(material).join(",");
  return String(v);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
