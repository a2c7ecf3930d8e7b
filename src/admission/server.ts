// The webhook's HTTPS endpoint: POST /validate with an AdmissionReview, answered by review.ts. It
// is reachable by anything that can reach the pod, so every request is bounded (body size, time,
// connections) and nothing it sends can make the daemon throw; the certificate is swapped in place
// when it is renewed.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ListenError } from "../report/http.ts";
import { BadReview, type AdmissionReviewOut } from "./review.ts";

export const WEBHOOK_PATH = "/validate";
/** The apiserver caps a request body at 3 MiB, and a review of an UPDATE carries the object twice. */
export const MAX_REVIEW_BYTES = 7 * 1024 * 1024;
const MAX_CONNECTIONS = 256;

export type ReviewResult = "allowed" | "denied" | "malformed";

export type WebhookServerOptions = {
  host: string;
  port: number;
  certificate: { cert: string; key: string };
  review: (body: unknown) => AdmissionReviewOut;
  /** Called once per request that reached the review step, with the kind it was about. */
  counted?: (kind: string, result: ReviewResult) => void;
};

export type WebhookServer = {
  port: number;
  address: string;
  setCertificate(certificate: { cert: string; key: string }): void;
  close(): Promise<void>;
};

class TooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new TooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

/** A bounded label for the metric, whatever the request claimed. */
function kindOf(body: unknown): string {
  const kind = (body as { request?: { kind?: { kind?: unknown } } } | null)?.request?.kind?.kind;
  return kind === "ServingSchedule" || kind === "ClusterServingSchedule" ? kind : "other";
}

async function handle(options: WebhookServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "https://localhost").pathname;
  if (path !== WEBHOOK_PATH) return send(res, 404, `not found: the admission webhook is at ${WEBHOOK_PATH}\n`);
  if (req.method !== "POST") {
    res.setHeader("allow", "POST");
    return send(res, 405, "method not allowed: POST an AdmissionReview\n");
  }
  const type = String(req.headers["content-type"] ?? "");
  if (!/^application\/json\b/i.test(type)) return send(res, 415, "unsupported media type: send application/json\n");
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_REVIEW_BYTES);
  } catch (err) {
    if (err instanceof TooLarge) return send(res, 413, `request body over ${MAX_REVIEW_BYTES} bytes\n`);
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    options.counted?.("other", "malformed");
    return send(res, 400, "body is not JSON\n");
  }
  let out: AdmissionReviewOut;
  try {
    out = options.review(body);
  } catch (err) {
    if (!(err instanceof BadReview)) throw err;
    options.counted?.(kindOf(body), "malformed");
    return send(res, 400, `${err.message}\n`);
  }
  options.counted?.(kindOf(body), out.response.allowed ? "allowed" : "denied");
  send(res, 200, JSON.stringify(out), "application/json");
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const server: Server = createServer({ ...options.certificate, minVersion: "TLSv1.2" }, (req, res) => {
    handle(options, req, res).catch(() => {
      // A bug or a dropped connection: the apiserver treats a failed call per failurePolicy (Ignore).
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  // The apiserver gives a webhook at most 30 s; a client slower than that is not the apiserver.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  // A failed TLS handshake (a scanner, a stale CA) is the client's problem, not an error to crash on.
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve, reject) => {
    const address = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
    server.once("error", (error) => reject(new ListenError(address, error, "--webhook-addr")));
    server.listen(options.port, options.host, () => {
      server.removeAllListeners("error");
      server.on("error", () => undefined);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    address: address.address,
    setCertificate: (certificate) => server.setSecureContext({ ...certificate, minVersion: "TLSv1.2" }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
