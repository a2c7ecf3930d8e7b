// Forwarding one client request to its InferenceService, streaming both ways: the response is
// written to the client as it arrives (token streams, SSE), never buffered. The request body is
// sent only once the upstream connection is open, so a refused connection (a service whose
// endpoints are not programmed yet) is known to have sent nothing and can be tried again.
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";

// RFC 9110 7.6.1: meaningful for one connection only; plus what this proxy sets or recomputes itself.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** Headers named in a Connection header are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(
    text
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ""),
  );
}

/** The client's headers as the upstream gets them: hop-by-hop dropped, X-Forwarded-* added, Host the upstream's. */
export function upstreamHeaders(
  req: IncomingMessage,
  clientHost: string,
  bodyLength: number | undefined,
): Record<string, string | string[]> {
  const named = connectionTokens(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    // host: the upstream's (set by the request); expect: the waker already answered 100-continue
    if (name === "host" || name === "expect") continue;
    if (name === "content-length" && bodyLength !== undefined) continue;
    out[name] = value;
  }
  if (bodyLength !== undefined) out["content-length"] = String(bodyLength);
  const peer = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const prior = req.headers["x-forwarded-for"];
  const chain = (Array.isArray(prior) ? prior.join(", ") : prior)?.trim();
  out["x-forwarded-for"] = chain ? `${chain}, ${peer}` : peer;
  out["x-forwarded-host"] = clientHost;
  // behind the gateway the client's scheme is the gateway's to say; directly, it is plain http
  out["x-forwarded-proto"] = typeof req.headers["x-forwarded-proto"] === "string" ? req.headers["x-forwarded-proto"] : "http";
  return out;
}

/** The upstream's response headers as the client gets them (flat name, value list: repeated Set-Cookie kept). */
export function clientHeaders(res: IncomingMessage): string[] {
  const named = connectionTokens(res.headers.connection);
  const out: string[] = [];
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

/** The upstream URL's path joined with the client's (path and query, always starting with "/"). */
export function upstreamPath(base: URL, clientPath: string): string {
  const prefix = base.pathname.replace(/\/+$/, "");
  return `${prefix}${clientPath}`;
}

export type ForwardOutcome =
  /** The connection failed before anything was sent: safe to try again (the body is untouched). */
  | { kind: "not_sent"; reason: string }
  /** The response was streamed to the end. */
  | { kind: "done" }
  /** Failed after the request was sent: the client got a 502 (before the response) or a cut connection. */
  | { kind: "failed"; stage: "before_response" | "during_response"; reason: string }
  /** The client went away first. */
  | { kind: "client_gone" };

export type ForwardRequest = {
  target: URL;
  req: IncomingMessage;
  res: ServerResponse;
  clientHost: string;
  /** The held request's buffered body; undefined: stream it from `req`. */
  body: Buffer | undefined;
  connectTimeoutMs: number;
  agent?: HttpAgent | HttpsAgent | undefined;
  /** Called when the first byte of the response is about to be sent. */
  onResponse?: (status: number) => void;
  /** Called for a failure after the request was sent, before the 502 or the cut (for metrics). */
  onFailure?: (stage: "before_response" | "during_response") => void;
};

export function forward(f: ForwardRequest): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let sent = false;
    // the upstream's response broke off: the client's connection is cut for that reason, not because the client left
    let upstreamBroke = false;
    const settle = (o: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      f.res.off("close", onClientClose);
      resolve(o);
    };
    const headers = upstreamHeaders(f.req, f.clientHost, f.body?.length);
    const requestFn = f.target.protocol === "https:" ? httpsRequest : httpRequest;
    const upstream: ClientRequest = requestFn({
      protocol: f.target.protocol,
      hostname: f.target.hostname.replace(/^\[|\]$/g, ""),
      port: f.target.port || undefined,
      method: f.req.method,
      path: upstreamPath(f.target, f.req.url ?? "/"),
      headers,
      ...(f.agent === undefined ? {} : { agent: f.agent }),
    });
    const onClientClose = () => {
      if (f.res.writableFinished || upstreamBroke) return;
      upstream.destroy();
      settle({ kind: "client_gone" });
    };
    f.res.on("close", onClientClose);
    const connectTimer = setTimeout(() => {
      if (!sent) upstream.destroy(new Error(`no connection within ${f.connectTimeoutMs} ms`));
    }, f.connectTimeoutMs);
    const send = () => {
      if (sent || settled) return;
      sent = true;
      clearTimeout(connectTimer);
      if (f.body !== undefined) upstream.end(f.body);
      else {
        // a failed upload shows as the upstream's error or the client's close, both handled there
        f.req.on("error", () => upstream.destroy());
        f.req.pipe(upstream);
      }
    };
    upstream.on("socket", (socket: Socket) => {
      if (socket.connecting) socket.once("connect", send);
      else send();
    });
    upstream.on("error", (e: NodeJS.ErrnoException) => {
      const reason = e.code ?? e.message;
      // a kept-alive socket the upstream had closed: only a buffered body can be sent again
      const retryable = !sent || (upstream.reusedSocket && f.body !== undefined && !f.res.headersSent);
      if (settled) return;
      if (retryable) return settle({ kind: "not_sent", reason });
      if (f.res.headersSent) return; // the response's own error path below reports it
      f.onFailure?.("before_response");
      const body = JSON.stringify({ error: { type: "upstream_error", message: `the model server failed before answering: ${reason}` } });
      f.res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      f.res.end(body);
      settle({ kind: "failed", stage: "before_response", reason });
    });
    upstream.on("response", (upRes: IncomingMessage) => {
      if (settled) {
        upRes.resume();
        return;
      }
      // pipe, not pipeline: pipeline makes an AbortController and a DOMException per request, a
      // measurable share of the waker's CPU for small answers
      const broke = (reason: string) => {
        upstreamBroke = true;
        if (settled) return;
        f.onFailure?.("during_response");
        f.res.destroy();
        settle({ kind: "failed", stage: "during_response", reason });
      };
      upRes.on("error", (e) => broke(e.message));
      upRes.once("close", () => {
        if (!upRes.complete) broke("the upstream closed the connection mid-answer");
      });
      f.res.once("finish", () => settle({ kind: "done" }));
      f.onResponse?.(upRes.statusCode ?? 502);
      f.res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientHeaders(upRes));
      // an event stream's headers go out now, not with its first event: a slow first token still shows
      // the client a live answer; other answers keep headers and body in one write
      if (/^text\/event-stream/i.test(String(upRes.headers["content-type"] ?? ""))) f.res.flushHeaders();
      upRes.pipe(f.res);
    });
  });
}
