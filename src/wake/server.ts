// The waker's HTTP server. A request for a service the daemon says is Ready is forwarded at once
// (streaming). Any other is held: its body buffered within the caps, the daemon asked (one call in
// flight per host, then a poll every 1-2 s while anything is held), and all of the host's held
// requests forwarded when the daemon says Ready, or answered when it refuses, does not know the
// host, or the deadline passes. Nothing here reads Kubernetes: the daemon is the only source.
import { createServer, Agent, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../report/log.ts";
import type { DaemonReply, WakeAnswer } from "./daemonClient.ts";
import { Hold, type HeldRequest, type HeldService } from "./hold.ts";
import { parseHost } from "./host.ts";
import type { RejectCause, WakerMetrics } from "./metrics.ts";
import { forward } from "./proxy.ts";
import { fillTemplate } from "./upstream.ts";

/** What the server needs of the daemon client (src/wake/daemonClient.ts). */
export type WakeDaemon = {
  ask(host: string): Promise<DaemonReply>;
  readyAnswer(host: string): WakeAnswer | undefined;
  forget(host: string): void;
};

export type WakerOptions = {
  daemon: WakeDaemon;
  upstreamTemplate: string;
  metrics: WakerMetrics;
  log: Logger;
  now: () => number;
  maxHeldRequests: number;
  maxHeldBytes: number;
  maxBodyBytes: number;
  /** Deadline of a request while the daemon has not named its service (it gives the service's own timeout). */
  holdTimeoutMs: number;
  /** Between two questions to the daemon about a host while requests for it are held. Default 1.5 s. */
  pollIntervalMs?: number;
  /** Between two connection attempts to an upstream that refused (Ready, endpoints not programmed yet). Default 250 ms. */
  retryConnectMs?: number;
  /** One connection attempt to the upstream. Default 5 s. */
  connectTimeoutMs?: number;
  /** Retry-After when the daemon has not said. Default 10 s. */
  defaultRetryAfterSeconds?: number;
};

export type Waker = {
  server: Server;
  port: number;
  address: string;
  /** Requests held now. */
  readonly held: number;
  /** Timers the waker has armed now (tests: none are left behind). */
  readonly timers: number;
  /** Stops listening, answers held requests 503, lets forwards finish within `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
};

type Held = {
  req: IncomingMessage;
  res: ServerResponse;
  chunks: Buffer[];
  bodyBytes: number;
  bodyDone: boolean;
};

type HostState = {
  answer: WakeAnswer | undefined;
  asking: boolean;
  poll: NodeJS.Timeout | undefined;
  /** The daemon's silence was logged at warn for this host: later polls log at debug, until it answers. */
  warned: boolean;
};

const JSON_TYPE = "application/json";

export async function startWaker(options: WakerOptions, listen: { host: string; port: number }): Promise<Waker> {
  const o = {
    pollIntervalMs: 1_500,
    retryConnectMs: 250,
    connectTimeoutMs: 5_000,
    defaultRetryAfterSeconds: 10,
    ...options,
  };
  const { daemon, metrics, log, now } = o;
  const hold = new Hold<Held>({ maxRequests: o.maxHeldRequests, maxBytes: o.maxHeldBytes });
  const hosts = new Map<string, HostState>();
  const retryTimers = new Set<NodeJS.Timeout>();
  const forwarding = new Set<ServerResponse>();
  // idle connections kept per upstream: as many as clients may be in flight, or each burst reconnects
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024 });
  // upstream URLs by service, so a running service's request parses no URL; bounded: cleared when full
  const targets = new Map<string, URL>();
  const targetOf = (a: WakeAnswer): URL => {
    const key = `${a.namespace}/${a.name}`;
    let url = targets.get(key);
    if (url === undefined) {
      if (targets.size >= 1_000) targets.clear();
      targets.set(key, (url = fillTemplate(o.upstreamTemplate, a)));
    }
    return url;
  };
  let expiry: { timer: NodeJS.Timeout; at: number } | undefined;
  let closing = false;

  // called after every change to the hold: an empty hold needs no deadline timer
  const gauge = () => {
    metrics.held(hold.size);
    if (hold.size === 0 && expiry !== undefined) {
      clearTimeout(expiry.timer);
      expiry = undefined;
    }
  };
  // forward() never rejects; a throw in an outcome handler is a bug of ours, logged rather than left unhandled
  const bug = (e: unknown) => log.error("internal error while forwarding", { err: e instanceof Error ? e : String(e) });

  function answer(res: ServerResponse, status: number, type: string, message: string, extra: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const body = JSON.stringify({ error: { type, message } });
    res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body), "cache-control": "no-store", ...extra });
    res.end(body);
  }

  function reject(
    h: { req: IncomingMessage; res: ServerResponse },
    cause: RejectCause,
    status: number,
    type: string,
    message: string,
    extra: Record<string, string> = {},
  ): void {
    metrics.rejected(cause);
    answer(h.res, status, type, message, extra);
    discardBody(h.req);
  }

  function retryAfter(a: WakeAnswer | undefined): number {
    const s = a?.retryAfterSeconds;
    return Math.max(1, Math.ceil(s === undefined ? o.defaultRetryAfterSeconds : s));
  }

  function hostState(host: string): HostState {
    let s = hosts.get(host);
    if (s === undefined) hosts.set(host, (s = { answer: undefined, asking: false, poll: undefined, warned: false }));
    return s;
  }

  /** A host with nothing held and no question pending is forgotten: the map holds only what waits. */
  function tidy(host: string): void {
    const s = hosts.get(host);
    if (s === undefined || s.asking || hold.countHost(host) > 0) return;
    if (s.poll !== undefined) clearTimeout(s.poll);
    hosts.delete(host);
  }

  function armExpiry(force = false): void {
    const next = hold.nextDeadline();
    if (next === undefined) {
      if (expiry !== undefined) clearTimeout(expiry.timer);
      expiry = undefined;
      return;
    }
    if (!force && expiry !== undefined && expiry.at <= next) return;
    if (expiry !== undefined) clearTimeout(expiry.timer);
    expiry = { at: next, timer: setTimeout(onExpiry, Math.max(0, next - now())) };
  }

  function onExpiry(): void {
    expiry = undefined;
    const expired = hold.expire(now());
    gauge();
    for (const e of expired) {
      const a = hosts.get(e.host)?.answer;
      timeoutAnswer(e.payload, e.host, a);
      tidy(e.host);
    }
    armExpiry(true);
  }

  function timeoutAnswer(h: { req: IncomingMessage; res: ServerResponse }, host: string, a: WakeAnswer | undefined): void {
    const wait = retryAfter(a);
    const who = a === undefined ? `the model at ${host}` : `${a.namespace}/${a.name}`;
    reject(h, "timeout", 503, "model_starting", `${who} is starting; retry in ${wait} s`, {
      "retry-after": String(wait),
      "x-should-retry": "true",
    });
  }

  function schedulePoll(host: string): void {
    const s = hosts.get(host);
    if (s === undefined || s.poll !== undefined || closing) return;
    s.poll = setTimeout(() => {
      s.poll = undefined;
      if (hold.countHost(host) > 0) ask(host);
      else tidy(host);
    }, o.pollIntervalMs);
  }

  function ask(host: string): void {
    const s = hostState(host);
    if (s.asking) return;
    s.asking = true;
    if (s.poll !== undefined) clearTimeout(s.poll);
    s.poll = undefined;
    daemon.ask(host).then(
      (reply) => onReply(host, reply),
      (e: unknown) => onReply(host, { kind: "unavailable", reason: e instanceof Error ? e.message : String(e) }),
    );
  }

  function onReply(host: string, reply: DaemonReply): void {
    const s = hostState(host);
    s.asking = false;
    if (closing) return;
    if (reply.kind === "unavailable") {
      metrics.daemonError();
      (s.warned ? log.debug : log.warn)("the daemon gave no answer; requests stay held", {
        host,
        reason: reply.reason,
        held: hold.countHost(host),
      });
      s.warned = true;
      schedulePoll(host);
    } else if (reply.kind === "unknown") {
      s.warned = false;
      s.answer = undefined;
      for (const e of hold.takeHost(host))
        reject(e.payload, "unknown_host", 404, "unknown_host", `no InferenceService is served at ${host}`);
    } else {
      s.warned = false;
      const a = reply.answer;
      if (a.state === "Refused") {
        s.answer = undefined;
        const message = a.message || `${a.namespace}/${a.name} is stopped and will not be started on request`;
        for (const e of hold.takeHost(host)) reject(e.payload, "refused", 503, "model_stopped", message, { "x-should-retry": "false" });
      } else {
        s.answer = a;
        const overflow = hold.assignService(host, serviceOf(a), timeoutMs(a));
        for (const e of overflow) queueFull(e.payload, a);
        armExpiry(true);
        if (a.state === "Ready") {
          for (const e of hold.forHost(host)) if (e.payload.bodyDone) forwardHeld(hold.release(e.id) as HeldRequest<Held>, a);
        }
        if (hold.countHost(host) > 0) schedulePoll(host);
      }
    }
    gauge();
    tidy(host);
  }

  function serviceOf(a: WakeAnswer): HeldService {
    return { key: `${a.namespace}/${a.name}`, maxHeldRequests: a.maxHeldRequests ?? o.maxHeldRequests };
  }
  function timeoutMs(a: WakeAnswer): number {
    return a.timeoutSeconds === undefined ? o.holdTimeoutMs : a.timeoutSeconds * 1000;
  }

  function queueFull(h: { req: IncomingMessage; res: ServerResponse }, a: WakeAnswer | undefined): void {
    const wait = retryAfter(a);
    reject(
      h,
      "queue_full",
      503,
      "queue_full",
      `too many requests are waiting for ${a === undefined ? "models to start" : `${a.namespace}/${a.name}`}; retry in ${wait} s`,
      {
        "retry-after": String(wait),
        "x-should-retry": "true",
      },
    );
  }

  /** A held request whose service is Ready: forward it, retrying a refused connection until its deadline. */
  function forwardHeld(e: HeldRequest<Held>, a: WakeAnswer): void {
    gauge();
    const h = e.payload;
    const body = Buffer.concat(h.chunks, h.bodyBytes);
    h.chunks = [];
    let retry: NodeJS.Timeout | undefined;
    // a client that leaves while the waker waits to retry costs no timer
    h.res.once("close", () => {
      if (retry === undefined) return;
      clearTimeout(retry);
      retryTimers.delete(retry);
      retry = undefined;
    });
    const attempt = () => {
      if (h.res.destroyed || closing) return;
      const left = e.deadline - now();
      forwarding.add(h.res);
      forward({
        target: targetOf(a),
        req: h.req,
        res: h.res,
        clientHost: e.host,
        body,
        connectTimeoutMs: Math.max(1, Math.min(o.connectTimeoutMs, left)),
        agent,
        onResponse: () => metrics.firstByte((now() - e.arrivedAt) / 1000),
        onFailure: (stage) => metrics.upstreamError(stage),
      }).then((outcome) => {
        forwarding.delete(h.res);
        if (outcome.kind === "not_sent") {
          if (now() + o.retryConnectMs < e.deadline && !closing) {
            const t = setTimeout(() => {
              retryTimers.delete(t);
              retry = undefined;
              attempt();
            }, o.retryConnectMs);
            retryTimers.add(t);
            retry = t;
          } else {
            metrics.upstreamError("before_response");
            timeoutAnswer(h, e.host, a);
          }
          return;
        }
        if (outcome.kind !== "client_gone") metrics.forwarded();
        if (outcome.kind === "failed") log.warn("forwarding failed", { host: e.host, stage: outcome.stage, reason: outcome.reason });
      }, bug);
    };
    attempt();
  }

  /** A request for a service the daemon said is Ready moments ago: straight through, body streamed. */
  function forwardNow(req: IncomingMessage, res: ServerResponse, host: string, a: WakeAnswer, arrivedAt: number): void {
    forwarding.add(res);
    forward({
      target: targetOf(a),
      req,
      res,
      clientHost: host,
      body: undefined,
      connectTimeoutMs: o.connectTimeoutMs,
      agent,
      onFailure: (stage) => metrics.upstreamError(stage),
    }).then((outcome) => {
      forwarding.delete(res);
      if (outcome.kind === "not_sent") {
        // the service stopped since the daemon said Ready; nothing was sent, so the request is held like any other
        daemon.forget(host);
        holdRequest(req, res, host, arrivedAt);
        return;
      }
      if (outcome.kind !== "client_gone") metrics.forwarded();
      if (outcome.kind === "failed") log.warn("forwarding failed", { host, stage: outcome.stage, reason: outcome.reason });
    }, bug);
  }

  function holdRequest(req: IncomingMessage, res: ServerResponse, host: string, arrivedAt: number): void {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > o.maxBodyBytes) {
      tooLarge(req, res);
      return;
    }
    const s = hosts.get(host);
    const known = s?.answer;
    const deadline = arrivedAt + (known === undefined ? o.holdTimeoutMs : timeoutMs(known));
    const headerBytes = req.rawHeaders.reduce((n, x) => n + x.length, 0) + (req.url?.length ?? 0);
    const h: Held = { req, res, chunks: [], bodyBytes: 0, bodyDone: false };
    const admitted = hold.admit(host, arrivedAt, deadline, headerBytes, h, known === undefined ? undefined : serviceOf(known));
    if (!admitted.ok) {
      queueFull(h, known);
      return;
    }
    const entry = admitted.entry;
    gauge();
    armExpiry();
    res.once("close", () => {
      // the client went away while its request was held: nothing of it stays
      if (hold.release(entry.id) !== undefined) {
        gauge();
        tidy(host);
        armExpiry(true);
      }
    });
    const onData = (chunk: Buffer) => {
      if (h.bodyBytes + chunk.length > o.maxBodyBytes) return overflow(() => tooLarge(req, res));
      if (!hold.grow(entry.id, chunk.length)) return overflow(() => queueFull(h, hosts.get(host)?.answer));
      h.chunks.push(chunk);
      h.bodyBytes += chunk.length;
    };
    const onEnd = () => {
      h.bodyDone = true;
      if (hold.get(entry.id) === undefined) return;
      const ready = daemon.readyAnswer(host);
      if (ready !== undefined) {
        forwardHeld(hold.release(entry.id) as HeldRequest<Held>, ready);
        tidy(host);
      }
    };
    const overflow = (respond: () => void) => {
      req.off("data", onData);
      req.off("end", onEnd);
      hold.release(entry.id);
      gauge();
      tidy(host);
      respond();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    ask(host);
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse): void {
    reject(
      { req, res },
      "body_too_large",
      413,
      "request_too_large",
      `the request body is larger than ${o.maxBodyBytes} bytes, the most the waker holds`,
    );
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const arrivedAt = now();
    if (closing) {
      answer(res, 503, "shutting_down", "the waker is shutting down; retry", {
        "retry-after": "1",
        "x-should-retry": "true",
        connection: "close",
      });
      discardBody(req);
      return;
    }
    // absolute-form (a proxy request) or "*": the upstream is the template's, never the client's choice
    if (!req.url?.startsWith("/")) {
      reject({ req, res }, "invalid_request", 400, "invalid_request", "the request target must be a path");
      return;
    }
    // Node keeps the first of repeated Host headers; two of them is a smuggling attempt or a broken client
    const hostHeaders = req.rawHeaders.filter((x, i) => i % 2 === 0 && x.toLowerCase() === "host").length;
    const parsed = parseHost(hostHeaders > 1 ? [] : req.headers.host);
    if (!parsed.ok) {
      if (parsed.status === 404) reject({ req, res }, "unknown_host", 404, "unknown_host", parsed.message);
      else reject({ req, res }, "invalid_request", 400, "invalid_request", parsed.message);
      return;
    }
    const ready = daemon.readyAnswer(parsed.host);
    if (ready !== undefined) forwardNow(req, res, parsed.host, ready, arrivedAt);
    else holdRequest(req, res, parsed.host, arrivedAt);
  }

  const server = createServer({ requireHostHeader: false }, handle);
  // a slow upload is bounded; a held request waits for its answer, which is not a request timeout
  server.headersTimeout = 30_000;
  server.requestTimeout = 5 * 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  return {
    server,
    port: address.port,
    address: address.address,
    get held() {
      return hold.size;
    },
    get timers() {
      let n = retryTimers.size + (expiry === undefined ? 0 : 1);
      for (const s of hosts.values()) if (s.poll !== undefined) n += 1;
      return n;
    },
    async close(graceMs = 10_000) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const host of hold.hosts())
        for (const e of hold.takeHost(host))
          answer(e.payload.res, 503, "shutting_down", "the waker is shutting down; retry", {
            "retry-after": "1",
            "x-should-retry": "true",
            connection: "close",
          });
      gauge();
      if (expiry !== undefined) clearTimeout(expiry.timer);
      expiry = undefined;
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
      for (const s of hosts.values()) if (s.poll !== undefined) clearTimeout(s.poll);
      hosts.clear();
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (forwarding.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      server.closeAllConnections();
      agent.destroy();
      await stopped;
    },
  };
}

/** The rest of an answered request's body is read and dropped, so the connection can carry the next request. */
function discardBody(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}
