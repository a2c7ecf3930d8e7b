// Prometheus HTTP API client: instant queries (POST /api/v1/query, form-encoded), validated with zod.
// It never throws to its caller: every failure (network, TLS, timeout, HTTP status, API error,
// unexpected shape) is an { kind: "error" } result, with the query's latency measured either way.
//
// Credentials are read from files on every request (a token file is a few bytes), so rotated
// service-account tokens and passwords work without a restart; TLS material (CA, client cert/key)
// is re-read when a file's mtime or size changes, which rebuilds the connection pool.
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { readFile, stat } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { z } from "zod";

export type PrometheusClientOptions = {
  /** e.g. "http://prometheus.monitoring:9090" or "https://thanos-querier.openshift-monitoring.svc:9091"; a path prefix is kept. */
  baseUrl: string;
  /** File holding a bearer token (re-read for every request). */
  bearerTokenFile?: string | undefined;
  /** Basic auth; the password is read from a file for every request. */
  basicAuth?: { username: string; passwordFile: string } | undefined;
  /** PEM CA bundle to verify the server with (instead of Node's default CAs). */
  caFile?: string | undefined;
  /** PEM client certificate and key for mTLS (both or neither). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Do not verify the server's certificate. For tests and emergencies only. */
  insecureSkipVerify?: boolean | undefined;
  /** Extra request headers, e.g. { "X-Scope-OrgID": "tenant-a" }. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Whole-request timeout in milliseconds (connect, send, wait, read). Default 10 000. */
  timeoutMs?: number | undefined;
  /** Largest response body accepted, in bytes. Default 64 MiB. */
  maxResponseBytes?: number | undefined;
};

/** One series of an instant vector. `value` is NaN/±Infinity when Prometheus says so. */
export type VectorSample = { labels: Record<string, string>; value: number };

export type QueryResult =
  | { kind: "ok"; samples: VectorSample[]; warnings: string[]; latencySeconds: number }
  | { kind: "error"; error: string; latencySeconds: number };

export type ParsedResponse = { kind: "ok"; samples: VectorSample[]; warnings: string[] } | { kind: "error"; error: string };

export interface PrometheusClient {
  /** Instant query at `time` (default: Prometheus' now). Never rejects. */
  query(promql: string, options?: { time?: Date }): Promise<QueryResult>;
  /** Closes pooled connections. */
  close(): void;
}

// Only the fields read are declared (extra fields such as `infos` or `stats` pass through).
export const PrometheusResponse = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.object({ resultType: z.string(), result: z.unknown() }),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({
    status: z.literal("error"),
    errorType: z.string().optional(),
    error: z.string().optional(),
  }),
]);
export type PrometheusResponse = z.infer<typeof PrometheusResponse>;

export const PrometheusVector = z.array(
  z.object({
    metric: z.record(z.string(), z.string()),
    value: z.tuple([z.number(), z.string()]),
  }),
);
export type PrometheusVector = z.infer<typeof PrometheusVector>;

/**
 * The URL with any `user:password@` replaced, for messages and logs. Works on text that is not a
 * valid URL too, since that is exactly when it ends up in an error message.
 */
export function redactUrl(text: string): string {
  const scheme = /^[^/?#]*\/\//.exec(text)?.[0] ?? "";
  const rest = text.slice(scheme.length);
  const end = rest.search(/[/?#]/);
  // The last "@" of the authority ends the user info; a password may itself contain "@".
  const at = rest.lastIndexOf("@", end < 0 ? rest.length : end - 1);
  return at < 0 ? text : `${scheme}<redacted>${rest.slice(at)}`;
}

/** Prometheus' float text: "1.5", "NaN", "+Inf", "-Inf". */
export function parsePromFloat(text: string): number {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  const n = text.trim() === "" ? Number.NaN : Number(text);
  return n;
}

function brief(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

function zodProblem(error: z.ZodError): string {
  const first = error.issues[0];
  if (first === undefined) return "invalid";
  const at = first.path.length > 0 ? ` at ${first.path.join(".")}` : "";
  return `${first.message}${at}`;
}

/** Interprets an HTTP status and body from /api/v1/query. Pure. Only an instant vector is a success. */
export function parseQueryResponse(httpStatus: number, body: string): ParsedResponse {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    const what = httpStatus >= 200 && httpStatus < 300 ? "response is not JSON" : `HTTP ${httpStatus}`;
    return { kind: "error", error: `${what}: ${brief(body) || "(empty body)"}` };
  }
  const parsed = PrometheusResponse.safeParse(json);
  if (!parsed.success) {
    const prefix = httpStatus >= 200 && httpStatus < 300 ? "" : `HTTP ${httpStatus}: `;
    return { kind: "error", error: `${prefix}unexpected Prometheus response: ${zodProblem(parsed.error)}` };
  }
  const response = parsed.data;
  if (response.status === "error") {
    return { kind: "error", error: `HTTP ${httpStatus}: ${response.errorType ?? "error"}: ${response.error ?? "(no message)"}` };
  }
  if (httpStatus < 200 || httpStatus >= 300) return { kind: "error", error: `HTTP ${httpStatus} with status success` };
  if (response.data.resultType !== "vector") {
    return { kind: "error", error: `expected an instant vector, got resultType ${JSON.stringify(response.data.resultType)}` };
  }
  const vector = PrometheusVector.safeParse(response.data.result);
  if (!vector.success) return { kind: "error", error: `unexpected vector: ${zodProblem(vector.error)}` };
  return {
    kind: "ok",
    samples: vector.data.map((s) => ({ labels: s.metric, value: parsePromFloat(s.value[1]) })),
    warnings: response.warnings ?? [],
  };
}

class ClientProblem extends Error {
  override readonly name = "ClientProblem";
}

function message(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${typeof code === "string" && !error.message.includes(code) ? `${code}: ` : ""}${error.message}${cause}`;
  }
  return String(error);
}

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    throw new ClientProblem(`cannot read ${what} file ${path}: ${message(error)}`, { cause: error });
  }
}

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(`Prometheus URL must be http or https: ${redactUrl(options.baseUrl)}`);
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new TypeError("client TLS needs both a certificate file and a key file");
  }
  const endpoint = new URL(`${base.pathname.replace(/\/+$/, "")}/api/v1/query`, base);
  const https = endpoint.protocol === "https:";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  const tlsFiles = [options.caFile, options.certFile, options.keyFile].filter((f): f is string => f !== undefined);

  let agent: HttpAgent | HttpsAgent | undefined;
  let agentStamp = "";

  async function currentAgent(): Promise<HttpAgent | HttpsAgent> {
    if (!https) {
      agent ??= new HttpAgent({ keepAlive: true, maxSockets: 8 });
      return agent;
    }
    let stamp = "";
    for (const file of tlsFiles) {
      try {
        const s = await stat(file);
        stamp += `${file}:${s.mtimeMs}:${s.size};`;
      } catch (error) {
        throw new ClientProblem(`cannot read TLS file ${file}: ${message(error)}`, { cause: error });
      }
    }
    if (agent !== undefined && stamp === agentStamp) return agent;
    const [ca, cert, key] = await Promise.all([
      options.caFile === undefined ? undefined : readSecretFile(options.caFile, "CA"),
      options.certFile === undefined ? undefined : readSecretFile(options.certFile, "client certificate"),
      options.keyFile === undefined ? undefined : readSecretFile(options.keyFile, "client key"),
    ]);
    agent?.destroy();
    agent = new HttpsAgent({
      keepAlive: true,
      maxSockets: 8,
      rejectUnauthorized: options.insecureSkipVerify !== true,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    });
    agentStamp = stamp;
    return agent;
  }

  async function headers(body: string): Promise<Record<string, string>> {
    const h: Record<string, string> = {
      ...options.headers,
      "content-type": "application/x-www-form-urlencoded",
      "content-length": String(Buffer.byteLength(body)),
      accept: "application/json",
    };
    if (options.bearerTokenFile !== undefined) {
      const token = await readSecretFile(options.bearerTokenFile, "bearer token");
      if (token === "") throw new ClientProblem(`bearer token file ${options.bearerTokenFile} is empty`);
      h["authorization"] = `Bearer ${token}`;
    } else if (options.basicAuth !== undefined) {
      const password = await readSecretFile(options.basicAuth.passwordFile, "password");
      h["authorization"] = `Basic ${Buffer.from(`${options.basicAuth.username}:${password}`).toString("base64")}`;
    }
    return h;
  }

  async function send(body: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
    const requestHeaders = await headers(body);
    const requestAgent = await currentAgent();
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        endpoint,
        { method: "POST", headers: requestHeaders, agent: requestAgent, signal },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              res.destroy(new ClientProblem(`response larger than ${maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on("error", reject);
          res.on("close", () => {
            if (!res.complete) reject(new ClientProblem("connection closed before the response was complete"));
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  return {
    async query(promql, queryOptions) {
      const started = performance.now();
      const latency = () => (performance.now() - started) / 1000;
      const form = new URLSearchParams({ query: promql });
      if (queryOptions?.time !== undefined) form.set("time", String(queryOptions.time.getTime() / 1000));
      // Prometheus' own evaluation timeout follows ours, so it gives up too.
      form.set("timeout", `${Math.max(1, Math.floor(timeoutMs / 1000))}s`);
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const { status, text } = await send(form.toString(), signal);
        const parsed = parseQueryResponse(status, text);
        return { ...parsed, latencySeconds: latency() };
      } catch (error) {
        const why = signal.aborted ? `timed out after ${timeoutMs} ms` : message(error);
        return { kind: "error", error: `${endpoint.origin}: ${why}`, latencySeconds: latency() };
      }
    },
    close() {
      agent?.destroy();
      agent = undefined;
    },
  };
}
