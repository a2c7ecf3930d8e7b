// Forwarding one client request to its InferenceService, streaming both ways: the response is
// written to the client as it arrives (token streams, SSE), never buffered. The request body is
// sent only once the upstream connection is open, so a refused connection (a service whose
// endpoints are not programmed yet) is known to have sent nothing and can be tried again.
// The model server is another tenant's code: whatever it answers that HTTP/1.1 cannot relay (a
// status outside 200-599, a reason phrase or header with control characters, a protocol switch
// nobody asked for) becomes a 502 for that one request, never an exception.
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import type { BlockList, Socket } from "node:net";

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

/** Headers that say who the client is and how it came: the waker's to set unless the peer is a trusted proxy. */
const CLIENT_IDENTITY = /^(x-forwarded-[a-z-]+|forwarded|x-real-ip)$/;

/** RFC 9110 reason-phrase: HTAB, SP, VCHAR, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** RFC 9110 field-value characters (what Node's writeHead accepts). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

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

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** A `for=` node of RFC 7239: IPv6 in quotes and brackets. */
function forwardedNode(address: string): string {
  return address.includes(":") ? `"[${address}]"` : address;
}

/**
 * The client's headers as the upstream gets them: hop-by-hop dropped, Host the upstream's, and who
 * the client is said by the waker: from a peer in `trusted` (the gateway) its X-Forwarded-* and
 * Forwarded are kept and extended; from any other peer they are replaced, so a client cannot claim
 * another address or https.
 */
export function upstreamHeaders(
  req: IncomingMessage,
  clientHost: string,
  bodyLength: number | undefined,
  trusted?: BlockList,
): Record<string, string | string[]> {
  const named = connectionTokens(req.headers.connection);
  const peer = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const family = peer.includes(":") ? "ipv6" : "ipv4";
  const fromProxy = trusted !== undefined && peer !== "" && trusted.check(peer, family);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    // host: the upstream's (set by the request); expect: the waker already answered 100-continue
    if (name === "host" || name === "expect") continue;
    if (name === "content-length" && bodyLength !== undefined) continue;
    if (CLIENT_IDENTITY.test(name)) continue;
    out[name] = value;
  }
  if (bodyLength !== undefined) out["content-length"] = String(bodyLength);
  const h = req.headers;
  if (fromProxy) {
    const chain = one(h["x-forwarded-for"])?.trim();
    out["x-forwarded-for"] = chain ? `${chain}, ${peer}` : peer;
    out["x-forwarded-proto"] = one(h["x-forwarded-proto"]) ?? "http";
    out["x-forwarded-host"] = one(h["x-forwarded-host"]) ?? clientHost;
    const forwarded = one(h.forwarded)?.trim();
    out.forwarded = forwarded ? `${forwarded}, for=${forwardedNode(peer)}` : `for=${forwardedNode(peer)};host=${clientHost};proto=http`;
    out["x-real-ip"] = one(h["x-real-ip"]) ?? peer;
    for (const name of ["x-forwarded-port", "x-forwarded-prefix"]) {
      const v = one(h[name]);
      if (v !== undefined) out[name] = v;
    }
  } else {
    out["x-forwarded-for"] = peer;
    out["x-forwarded-proto"] = "http";
    out["x-forwarded-host"] = clientHost;
    out.forwarded = `for=${forwardedNode(peer)};host=${clientHost};proto=http`;
    out["x-real-ip"] = peer;
  }
  return out;
}

/**
 * The upstream's response headers as the client gets them (flat name, value list: repeated
 * Set-Cookie kept), or a string saying why they cannot be relayed.
 */
export function clientHeaders(res: IncomingMessage): string[] | string {
  const named = connectionTokens(res.headers.connection);
  const out: string[] = [];
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    if (!FIELD_NAME.test(name) || !FIELD_VALUE.test(value)) return `a header the waker cannot relay (${JSON.stringify(name.slice(0, 40))})`;
    out.push(name, value);
  }
  return out;
}

/** Why a final status line cannot be relayed, or undefined when it can. */
export function unrelayableStatus(status: number | undefined, reason: string | undefined): string | undefined {
  if (status === undefined || !Number.isInteger(status) || status < 200 || status > 599)
    return `status ${String(status).slice(0, 6)} is not a final HTTP status (200-599)`;
  if (reason !== undefined && (reason.length > 512 || !REASON_PHRASE.test(reason))) return "a reason phrase with control characters";
  return undefined;
}

/**
 * A path the waker forwards: the client's path must not climb out of the template's path. Dot
 * segments ("." or "..", also percent-encoded) are refused: no client library sends them (URL
 * parsers resolve them first), and joined after a path-based template they would reach another
 * service. Undefined when the path is fine, else the reason.
 */
export function pathProblem(target: string): string | undefined {
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  // a server that decodes %2F, or reads a backslash as a slash, sees segments there too
  for (const raw of path.split(/\/|\\|%2f|%5c/i)) {
    const seg = raw.replace(/%2e/gi, ".");
    if (seg === "." || seg === "..") return "the path has a '.' or '..' segment";
  }
  return undefined;
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
  /** Peers whose X-Forwarded-* and Forwarded headers are kept (the gateway); others' are replaced. */
  trustedProxies?: BlockList | undefined;
  /** Called once the connection is open and the request is being sent (nothing can be retried after). */
  onSent?: () => void;
  /** Called when the first byte of the response is about to be sent. */
  onResponse?: (status: number) => void;
  /** Called for a failure after the request was sent, before the 502 or the cut (for metrics). */
  onFailure?: (stage: "before_response" | "during_response") => void;
};

/** The waker's own 502, with its own reason phrase: the model server's words are what could not be relayed. */
function badGateway(res: ServerResponse, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ error: { type: "upstream_error", message } });
  res.writeHead(502, "Bad Gateway", { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

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
    const fail = (reason: string) => {
      if (settled) return;
      f.onFailure?.("before_response");
      upstream.destroy();
      badGateway(f.res, `the model server's answer cannot be relayed: ${reason}`);
      settle({ kind: "failed", stage: "before_response", reason });
    };
    const headers = upstreamHeaders(f.req, f.clientHost, f.body?.length, f.trustedProxies);
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
      // answered meanwhile (its deadline, a shutdown): nothing is sent
      if (f.res.writableEnded || f.res.destroyed) {
        upstream.destroy();
        return settle({ kind: "client_gone" });
      }
      sent = true;
      clearTimeout(connectTimer);
      f.onSent?.();
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
    // The waker sends no Upgrade and never relays one: a 101 is a model server out of protocol.
    // Other 1xx (100, 102, 103) are consumed and the final answer relayed (RFC 9110 15.2: a client
    // must accept 1xx it did not expect).
    upstream.on("upgrade", (_res: IncomingMessage, socket: Socket) => {
      socket.destroy();
      fail("it switched protocols (101) though none was asked for");
    });
    upstream.on("information", (info: { statusCode: number }) => {
      if (info.statusCode === 101) fail("it switched protocols (101) though none was asked for");
    });
    upstream.on("error", (e: NodeJS.ErrnoException) => {
      const reason = e.code ?? e.message;
      // a kept-alive socket the upstream had closed: only a buffered body can be sent again
      const retryable = !sent || (upstream.reusedSocket && f.body !== undefined && !f.res.headersSent);
      if (settled) return;
      if (retryable) return settle({ kind: "not_sent", reason });
      if (f.res.headersSent) return; // the response's own error path below reports it
      f.onFailure?.("before_response");
      badGateway(f.res, `the model server failed before answering: ${reason}`);
      settle({ kind: "failed", stage: "before_response", reason });
    });
    upstream.on("response", (upRes: IncomingMessage) => {
      if (settled) {
        upRes.resume();
        return;
      }
      const why = unrelayableStatus(upRes.statusCode, upRes.statusMessage);
      const relayed = why === undefined ? clientHeaders(upRes) : why;
      if (typeof relayed === "string") {
        upRes.resume();
        fail(relayed);
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
      f.onResponse?.(upRes.statusCode as number);
      try {
        f.res.writeHead(upRes.statusCode as number, upRes.statusMessage, relayed);
      } catch (e) {
        // Node's own checks are the last word: anything they refuse is the model's fault, for this request only
        upRes.resume();
        fail(e instanceof Error ? e.message.slice(0, 200) : String(e));
        return;
      }
      // an event stream's headers go out now, not with its first event: a slow first token still shows
      // the client a live answer; other answers keep headers and body in one write
      if (/^text\/event-stream/i.test(String(upRes.headers["content-type"] ?? ""))) f.res.flushHeaders();
      upRes.pipe(f.res);
    });
  });
}
