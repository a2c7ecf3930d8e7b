// The waker's HTTP server, the one part of kserve-reclaimer that faces untrusted traffic. A request
// for a service the daemon said is Ready moments ago is forwarded at once (streaming). Any other
// waits for the daemon's word on its host (one call in flight per host, then one every poll
// interval while anything waits: a cadence, not a call per request), its body unread meanwhile:
// - Ready: forwarded, streaming, like the first kind; it never enters the hold, so a hold full of
//   other services' requests cannot refuse a running service;
// - Starting: held, body buffered within the caps, until Ready (forwarded), its deadline (503), or
//   the daemon refuses (503) or forgets the host (404);
// - no such host: 404, remembered a few seconds; refused credential: 503 to everything, not ready.
// Nothing here reads Kubernetes: the daemon is the only source. See docs/wake-on-request.md,
// "Limits and hostile input", for every cap and what a client sees.
import { createServer, Agent, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, BlockList } from "node:net";
import type { Logger } from "../report/log.ts";
import { HeldBody } from "./body.ts";
import type { WakeAnswer } from "../api/wake.ts";
import type { DaemonReply } from "./daemonClient.ts";
import { Hold, type HeldRequest, type HeldService } from "./hold.ts";
import { parseHost } from "./host.ts";
import type { RejectCause, WakerMetrics } from "./metrics.ts";
import { forward, pathProblem } from "./proxy.ts";
import { AttemptBudget, backoffMs, DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { fillTemplate } from "./upstream.ts";

/** What the server needs of the daemon client (src/wake/daemonClient.ts). */
export type WakeDaemon = {
  ask(host: string): Promise<DaemonReply>;
  checkCredential(): Promise<DaemonReply>;
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
  /** A held upload that sends no byte for this long is answered 408 and closed. Default 10 s. */
  bodyIdleTimeoutMs?: number;
  /** A held request's whole body must arrive within this. Default 60 s. */
  bodyTimeoutMs?: number;
  /** Peers whose X-Forwarded-*, Forwarded and X-Real-IP are kept (the gateway); undefined: nobody's. */
  trustedProxies?: BlockList | undefined;
  /** Between two questions to the daemon about a host while requests for it wait. Default 1.5 s. */
  pollIntervalMs?: number;
  /** How long a host the daemon does not know is answered 404 without asking again. Default 5 s. */
  unknownHostMs?: number;
  /** The first wait before trying a refused upstream again (it doubles to `retry.maxMs`). Default 250 ms. */
  retryConnectMs?: number;
  retry?: Partial<RetryPolicy>;
  /** One connection attempt to the upstream. Default 5 s. */
  connectTimeoutMs?: number;
  /** Retry-After when the daemon has not said. Default 10 s. */
  defaultRetryAfterSeconds?: number;
  /** While the daemon refuses the credential, it is checked again this often. Default 10 s. */
  credentialCheckMs?: number;
  /** Check the credential once at start-up (the process does; tests that count calls do not). */
  checkCredentialOnStart?: boolean;
  random?: () => number;
};

export type Waker = {
  server: Server;
  port: number;
  address: string;
  /** Requests held now. */
  readonly held: number;
  /** Requests waiting for the daemon's first word on their host (not held, body unread). */
  readonly waiting: number;
  /** Timers the waker has armed now (tests: none are left behind). */
  readonly timers: number;
  /** For /readyz: not ready while the daemon refuses the waker's credential. */
  ready(): { ok: boolean; problems: string[] };
  /** Stops listening, answers held requests 503, lets forwards finish within `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
};

type Exchange = { req: IncomingMessage; res: ServerResponse };

type Held = Exchange & {
  body: HeldBody;
  bodyDone: boolean;
  lastByteAt: number;
  bodyTimer: NodeJS.Timeout | undefined;
  /** A connection attempt for it is under way: it stays held until the request is sent. */
  forwarding: boolean;
};

type Waiting = Exchange & { arrivedAt: number };

type HostState = {
  /** The daemon's last answer (Starting or Ready) while anything waits for the host. */
  answer: WakeAnswer | undefined;
  asking: boolean;
  poll: NodeJS.Timeout | undefined;
  waiting: Set<Waiting>;
  /** The daemon's silence was logged at warn for this host: later polls log at debug, until it answers. */
  warned: boolean;
};

/** One connection attempt loop per upstream: held requests queue here while it refuses connections. */
type Gate = { failures: number; timer: NodeJS.Timeout | undefined; probing: boolean; queue: Set<number>; answer: WakeAnswer };

const JSON_TYPE = "application/json";
/** A refused request whose declared body is at most this is read to its end, keeping the connection; others close it. */
const DRAIN_LIMIT = 64 * 1024;
/** Hosts remembered as unknown at most; past it the oldest are forgotten (they are asked again). */
const UNKNOWN_CACHE_MAX = 10_000;

export async function startWaker(options: WakerOptions, listen: { host: string; port: number }): Promise<Waker> {
  const o = {
    pollIntervalMs: 1_500,
    unknownHostMs: 5_000,
    connectTimeoutMs: 5_000,
    defaultRetryAfterSeconds: 10,
    bodyIdleTimeoutMs: 10_000,
    bodyTimeoutMs: 60_000,
    credentialCheckMs: 10_000,
    random: Math.random,
    ...options,
  };
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...(o.retryConnectMs === undefined ? {} : { baseMs: o.retryConnectMs }), ...o.retry };
  const { daemon, metrics, log, now } = o;
  const hold = new Hold<Held>({ maxRequests: o.maxHeldRequests, maxBytes: o.maxHeldBytes });
  const hosts = new Map<string, HostState>();
  const unknown = new Map<string, number>();
  const gates = new Map<string, Gate>();
  const budget = new AttemptBudget(retry.attemptsPerSecond, now());
  const bodyTimers = new Set<NodeJS.Timeout>();
  const forwarding = new Set<ServerResponse>();
  // idle connections kept per upstream: as many as clients may be in flight, or each burst reconnects
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024 });
  // upstream URLs by service, so a running service's request parses no URL; bounded: cleared when full
  const targets = new Map<string, URL>();
  let waitingCount = 0;
  let expiry: { timer: NodeJS.Timeout; at: number } | undefined;
  let credential: { refused: string; timer: NodeJS.Timeout | undefined } | undefined;
  let closing = false;

  /** The service's upstream URL, or undefined (logged) when the template makes no URL of its names. */
  function targetOf(a: WakeAnswer): URL | undefined {
    const key = `${a.namespace}/${a.name}`;
    let url = targets.get(key);
    if (url === undefined) {
      try {
        url = fillTemplate(o.upstreamTemplate, a);
      } catch (e) {
        log.warn("the upstream template makes no URL for this service", { service: key, err: e instanceof Error ? e.message : String(e) });
        return undefined;
      }
      if (targets.size >= 1_000) targets.clear();
      targets.set(key, url);
    }
    return url;
  }

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

  function answer(x: Exchange, status: number, type: string, message: string, extra: Record<string, string> = {}): void {
    const { req, res } = x;
    if (res.headersSent || res.destroyed) return;
    // a body left unread is read to its end only when it is small and framed; otherwise the
    // connection closes, so a refused upload is not read on (Node drains what is left on keep-alive)
    const declared = req.headers["content-length"];
    const keep =
      req.complete || (declared !== undefined && Number(declared) <= DRAIN_LIMIT && req.headers["transfer-encoding"] === undefined);
    const body = JSON.stringify({ error: { type, message } });
    res.writeHead(status, {
      "content-type": JSON_TYPE,
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
      ...(keep ? {} : { connection: "close" }),
      ...extra,
    });
    res.end(body);
  }

  function reject(
    x: Exchange,
    cause: RejectCause,
    status: number,
    type: string,
    message: string,
    extra: Record<string, string> = {},
  ): void {
    metrics.rejected(cause);
    answer(x, status, type, message, extra);
  }

  function retryAfter(a: WakeAnswer | undefined): number {
    const s = a?.retryAfterSeconds;
    return Math.max(1, Math.ceil(s === undefined ? o.defaultRetryAfterSeconds : s));
  }

  function hostState(host: string): HostState {
    let s = hosts.get(host);
    if (s === undefined) hosts.set(host, (s = { answer: undefined, asking: false, poll: undefined, waiting: new Set(), warned: false }));
    return s;
  }

  /** A host with nothing held or waiting and no question pending is forgotten: the map holds only what waits. */
  function tidy(host: string): void {
    const s = hosts.get(host);
    if (s === undefined || s.asking || s.waiting.size > 0 || hold.countHost(host) > 0) return;
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
      settleHeld(e.payload);
      timeoutAnswer(e.payload, e.host, hosts.get(e.host)?.answer);
      tidy(e.host);
    }
    armExpiry(true);
  }

  /** A held request leaves the hold (answered, forwarded, gone): its body timer with it. */
  function settleHeld(h: Held): void {
    if (h.bodyTimer !== undefined) {
      clearTimeout(h.bodyTimer);
      bodyTimers.delete(h.bodyTimer);
      h.bodyTimer = undefined;
    }
  }

  function timeoutAnswer(x: Exchange, host: string, a: WakeAnswer | undefined): void {
    const wait = retryAfter(a);
    const who = a === undefined ? `the model at ${host}` : `${a.namespace}/${a.name}`;
    reject(x, "timeout", 503, "model_starting", `${who} is starting; retry in ${wait} s`, {
      "retry-after": String(wait),
      "x-should-retry": "true",
    });
  }

  function queueFull(x: Exchange, a: WakeAnswer | undefined): void {
    const wait = retryAfter(a);
    const what = a === undefined ? "models to start" : `${a.namespace}/${a.name}`;
    reject(x, "queue_full", 503, "queue_full", `too many requests are waiting for ${what}; retry in ${wait} s`, {
      "retry-after": String(wait),
      "x-should-retry": "true",
    });
  }

  function unauthorized(x: Exchange): void {
    reject(
      x,
      "waker_unauthorized",
      503,
      "waker_unauthorized",
      `this waker cannot start models: ${credential?.refused ?? "the daemon refuses its credential"}; an operator must fix its token`,
      { "x-should-retry": "false" },
    );
  }

  function schedulePoll(host: string): void {
    const s = hosts.get(host);
    if (s === undefined || s.poll !== undefined || closing) return;
    s.poll = setTimeout(() => {
      s.poll = undefined;
      if (hold.countHost(host) > 0 || s.waiting.size > 0) ask(host);
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

  /** Every request of a host, waiting or held, taken out for one answer. */
  function takeAll(host: string): Exchange[] {
    const s = hosts.get(host);
    const out: Exchange[] = [];
    if (s !== undefined) {
      for (const w of s.waiting) out.push(w);
      waitingCount -= s.waiting.size;
      s.waiting.clear();
    }
    for (const e of hold.takeHost(host)) {
      settleHeld(e.payload);
      out.push(e.payload);
    }
    return out;
  }

  function onReply(host: string, reply: DaemonReply): void {
    const s = hostState(host);
    s.asking = false;
    if (closing) return;
    if (reply.kind === "refused") credentialRefused(reply.reason);
    else if (credential !== undefined) credentialAccepted();
    if (reply.kind === "refused") {
      // credentialRefused answered everything
    } else if (reply.kind === "unavailable") {
      metrics.daemonError();
      (s.warned ? log.debug : log.warn)("the daemon gave no answer; requests stay held", {
        host,
        reason: reply.reason,
        held: hold.countHost(host) + s.waiting.size,
      });
      s.warned = true;
      // held from now on as any request whose service is not known yet: until the hold timeout
      for (const w of takeWaiting(s)) holdRequest(w, host, undefined);
      schedulePoll(host);
    } else if (reply.kind === "unknown") {
      s.answer = undefined;
      rememberUnknown(host);
      for (const x of takeAll(host)) reject(x, "unknown_host", 404, "unknown_host", `no InferenceService is served at ${host}`);
    } else {
      s.warned = false;
      const a = reply.answer;
      if (a.state === "Refused") {
        s.answer = undefined;
        const message = a.message || `${a.namespace}/${a.name} is stopped and will not be started on request`;
        for (const x of takeAll(host)) reject(x, "refused", 503, "model_stopped", message, { "x-should-retry": "false" });
      } else {
        s.answer = a;
        const overflow = hold.assignService(host, serviceOf(a), timeoutMs(a));
        for (const e of overflow) {
          settleHeld(e.payload);
          queueFull(e.payload, a);
        }
        armExpiry(true);
        for (const w of takeWaiting(s)) {
          if (a.state === "Ready" && gateOpen(a)) forwardNow(w, host, a);
          else holdRequest(w, host, a);
        }
        if (a.state === "Ready") for (const e of hold.forHost(host)) if (e.payload.bodyDone) submit(e, a);
        if (hold.countHost(host) > 0) schedulePoll(host);
      }
    }
    gauge();
    tidy(host);
  }

  function takeWaiting(s: HostState): Waiting[] {
    const taken = [...s.waiting];
    waitingCount -= taken.length;
    s.waiting.clear();
    return taken;
  }

  function rememberUnknown(host: string): void {
    if (unknown.size >= UNKNOWN_CACHE_MAX) {
      const t = now();
      for (const [h, until] of unknown) if (until <= t) unknown.delete(h);
      for (const h of unknown.keys()) {
        if (unknown.size < UNKNOWN_CACHE_MAX) break;
        unknown.delete(h);
      }
    }
    unknown.set(host, now() + o.unknownHostMs);
  }

  function credentialRefused(reason: string): void {
    if (credential === undefined) {
      log.error("the daemon refuses the waker's credential: every request is answered 503 and /readyz fails until it accepts it", {
        reason,
      });
      credential = { refused: reason, timer: undefined };
      metrics.credentialRefused(true);
    }
    credential.refused = reason;
    for (const host of [...hosts.keys(), ...hold.hosts()]) for (const x of takeAll(host)) unauthorized(x);
    gauge();
    if (credential.timer === undefined && !closing) {
      const c = credential;
      c.timer = setTimeout(() => {
        c.timer = undefined;
        daemon.checkCredential().then(
          (r) => {
            if (closing || credential !== c) return;
            if (r.kind === "refused") credentialRefused(r.reason);
            else credentialAccepted();
          },
          () => credentialRefused(c.refused),
        );
      }, o.credentialCheckMs);
    }
  }

  function credentialAccepted(): void {
    if (credential === undefined) return;
    if (credential.timer !== undefined) clearTimeout(credential.timer);
    credential = undefined;
    metrics.credentialRefused(false);
    log.info("the daemon accepts the waker's credential again");
  }

  function serviceOf(a: WakeAnswer): HeldService {
    return { key: `${a.namespace}/${a.name}`, maxHeldRequests: a.maxHeldRequests ?? o.maxHeldRequests };
  }
  function timeoutMs(a: WakeAnswer): number {
    return a.timeoutSeconds === undefined ? o.holdTimeoutMs : a.timeoutSeconds * 1000;
  }

  function gateOpen(a: WakeAnswer): boolean {
    const url = targetOf(a);
    const g = url === undefined ? undefined : gates.get(url.href);
    return g === undefined || (g.failures === 0 && !g.probing && g.timer === undefined);
  }

  function invalidUpstream(x: Exchange, a: WakeAnswer): void {
    reject(
      x,
      "upstream_unreachable",
      502,
      "upstream_error",
      `the waker's upstream template makes no valid URL for ${a.namespace}/${a.name}`,
    );
  }

  /** A held request with its whole body, for a Ready service: forwarded now, or queued behind its upstream's retry loop. */
  function submit(e: HeldRequest<Held>, a: WakeAnswer): void {
    if (e.payload.forwarding) return;
    const url = targetOf(a);
    if (url === undefined) {
      hold.release(e.id);
      settleHeld(e.payload);
      gauge();
      invalidUpstream(e.payload, a);
      return;
    }
    const g = gates.get(url.href);
    if (g !== undefined && (g.failures > 0 || g.probing || g.timer !== undefined)) {
      g.queue.add(e.id);
      g.answer = a;
      return;
    }
    forwardHeld(e, a, url);
  }

  /**
   * The upstream refused a connection: one loop per upstream tries again with backoff, jitter and a
   * global budget. A burst refused at once is one failure; each failed probe is one more.
   */
  function gateFailed(url: URL, a: WakeAnswer, id: number | undefined, fromProbe: boolean): void {
    let g = gates.get(url.href);
    const fresh = g === undefined;
    if (g === undefined) gates.set(url.href, (g = { failures: 0, timer: undefined, probing: false, queue: new Set(), answer: a }));
    if (fresh || fromProbe) g.failures += 1;
    g.answer = a;
    if (id !== undefined) g.queue.add(id);
    armGate(url, g, backoffMs(retry, g.failures, o.random()));
  }

  function armGate(url: URL, g: Gate, waitMs: number): void {
    if (g.timer !== undefined || g.probing || closing) return;
    g.timer = setTimeout(() => {
      g.timer = undefined;
      probe(url, g);
    }, waitMs);
  }

  function probe(url: URL, g: Gate): void {
    let next: HeldRequest<Held> | undefined;
    for (const id of g.queue) {
      const e = hold.get(id);
      if (e === undefined) g.queue.delete(id);
      else if (!e.payload.forwarding) {
        next = e;
        break;
      }
    }
    if (next === undefined) {
      if (g.queue.size === 0) gates.delete(url.href);
      return;
    }
    const wait = budget.take(now());
    if (wait > 0) {
      armGate(url, g, wait);
      return;
    }
    g.queue.delete(next.id);
    g.probing = true;
    forwardHeld(next, g.answer, url, g);
  }

  function openGate(url: URL, g: Gate): void {
    g.failures = 0;
    g.probing = false;
    if (g.timer !== undefined) clearTimeout(g.timer);
    g.timer = undefined;
    gates.delete(url.href);
    for (const id of g.queue) {
      const e = hold.get(id);
      if (e !== undefined) forwardHeld(e, g.answer, url);
    }
  }

  /** A held request whose service is Ready: it stays held (and counted) until its request is sent. */
  function forwardHeld(e: HeldRequest<Held>, a: WakeAnswer, url: URL, probing?: Gate): void {
    const h = e.payload;
    h.forwarding = true;
    const left = e.deadline - now();
    forwarding.add(h.res);
    forward({
      target: url,
      req: h.req,
      res: h.res,
      clientHost: e.host,
      body: h.body.bytes(),
      connectTimeoutMs: Math.max(1, Math.min(o.connectTimeoutMs, left)),
      agent,
      trustedProxies: o.trustedProxies,
      onSent: () => {
        hold.release(e.id);
        settleHeld(h);
        gauge();
        tidy(e.host);
        if (probing !== undefined) openGate(url, probing);
      },
      onResponse: () => metrics.firstByte((now() - e.arrivedAt) / 1000),
      onFailure: (stage) => metrics.upstreamError(stage),
    }).then((outcome) => {
      forwarding.delete(h.res);
      h.forwarding = false;
      if (outcome.kind === "not_sent") {
        if (probing !== undefined) probing.probing = false;
        // still held: its deadline answers it if the upstream never listens
        if (hold.get(e.id) !== undefined && !closing) gateFailed(url, a, e.id, probing !== undefined);
        return;
      }
      if (outcome.kind !== "client_gone") metrics.forwarded();
      if (outcome.kind === "failed") log.warn("forwarding failed", { host: e.host, stage: outcome.stage, reason: outcome.reason });
    }, bug);
  }

  /** A request for a service the daemon said is Ready moments ago: straight through, body streamed. */
  function forwardNow(w: Waiting, host: string, a: WakeAnswer): void {
    const url = targetOf(a);
    if (url === undefined) {
      invalidUpstream(w, a);
      return;
    }
    forwarding.add(w.res);
    forward({
      target: url,
      req: w.req,
      res: w.res,
      clientHost: host,
      body: undefined,
      connectTimeoutMs: o.connectTimeoutMs,
      agent,
      trustedProxies: o.trustedProxies,
      onFailure: (stage) => metrics.upstreamError(stage),
    }).then((outcome) => {
      forwarding.delete(w.res);
      if (outcome.kind === "not_sent") {
        // the service stopped since the daemon said Ready, or its endpoints are not there yet;
        // nothing was sent (the body is unread), so the request waits like any other
        daemon.forget(host);
        if (!gates.has(url.href)) gateFailed(url, a, undefined, false);
        route(w, host);
        return;
      }
      if (outcome.kind !== "client_gone") metrics.forwarded();
      if (outcome.kind === "failed") log.warn("forwarding failed", { host, stage: outcome.stage, reason: outcome.reason });
    }, bug);
  }

  /** A request whose host has no fresh Ready answer: the daemon's word on the host decides. */
  function route(w: Waiting, host: string): void {
    if (closing) {
      shuttingDown(w);
      return;
    }
    if (credential !== undefined) {
      unauthorized(w);
      return;
    }
    const until = unknown.get(host);
    if (until !== undefined) {
      if (until > now()) {
        reject(w, "unknown_host", 404, "unknown_host", `no InferenceService is served at ${host}`);
        return;
      }
      unknown.delete(host);
    }
    const s = hostState(host);
    if (s.answer !== undefined && !s.asking) {
      if (s.answer.state === "Ready" && gateOpen(s.answer)) forwardNow(w, host, s.answer);
      else holdRequest(w, host, s.answer);
      return;
    }
    if (waitingCount >= o.maxHeldRequests) {
      tidy(host);
      queueFull(w, undefined);
      return;
    }
    s.waiting.add(w);
    waitingCount += 1;
    w.res.once("close", () => {
      if (s.waiting.delete(w)) {
        waitingCount -= 1;
        tidy(host);
      }
    });
    ask(host);
  }

  function holdRequest(w: Waiting, host: string, known: WakeAnswer | undefined): void {
    const { req, res } = w;
    if (res.destroyed || res.headersSent) return;
    const declaredText = req.headers["content-length"];
    const declared = declaredText === undefined ? undefined : Number(declaredText);
    if (declared !== undefined && declared > o.maxBodyBytes) {
      tooLarge(w);
      return;
    }
    const deadline = w.arrivedAt + (known === undefined ? o.holdTimeoutMs : timeoutMs(known));
    const headerBytes = req.rawHeaders.reduce((n, x) => n + x.length, 0) + (req.url?.length ?? 0);
    const h: Held = {
      req,
      res,
      body: new HeldBody(declared, o.maxBodyBytes),
      bodyDone: false,
      lastByteAt: now(),
      bodyTimer: undefined,
      forwarding: false,
    };
    const admitted = hold.admit(host, w.arrivedAt, deadline, headerBytes, h, known === undefined ? undefined : serviceOf(known));
    if (!admitted.ok) {
      queueFull(w, known);
      return;
    }
    const entry = admitted.entry;
    gauge();
    armExpiry();
    res.once("close", () => {
      // the client went away while its request was held: nothing of it stays
      req.off("data", onData);
      req.off("end", onEnd);
      settleHeld(h);
      if (hold.release(entry.id) !== undefined) {
        gauge();
        tidy(host);
        armExpiry(true);
      }
    });
    const onData = (chunk: Buffer) => {
      h.lastByteAt = now();
      const capacity = h.body.capacityFor(chunk.length);
      if (capacity === undefined) return refuseBody(() => tooLarge(w));
      if (capacity > h.body.capacity && !hold.grow(entry.id, capacity - h.body.capacity))
        return refuseBody(() => queueFull(w, hosts.get(host)?.answer));
      h.body.append(chunk);
    };
    const onEnd = () => {
      h.bodyDone = true;
      settleHeld(h);
      const e = hold.get(entry.id);
      if (e === undefined) return;
      const ready = daemon.readyAnswer(host) ?? (hosts.get(host)?.answer?.state === "Ready" ? hosts.get(host)?.answer : undefined);
      if (ready !== undefined) submit(e, ready);
    };
    const refuseBody = (respond: () => void) => {
      req.off("data", onData);
      req.off("end", onEnd);
      settleHeld(h);
      hold.release(entry.id);
      gauge();
      tidy(host);
      respond();
    };
    // (req.complete is true as soon as the parser has the whole body, read or not: it is read below)
    if (req.readableEnded) {
      onEnd();
      return;
    }
    // one timer per upload: the body must keep coming (idle) and be complete in time (whole)
    const bodyDeadline = now() + o.bodyTimeoutMs;
    const check = () => {
      if (h.bodyTimer !== undefined) bodyTimers.delete(h.bodyTimer);
      h.bodyTimer = undefined;
      const t = now();
      const idleAt = h.lastByteAt + o.bodyIdleTimeoutMs;
      if (t >= idleAt || t >= bodyDeadline) {
        const why =
          t >= bodyDeadline ? `was not complete within ${o.bodyTimeoutMs / 1000} s` : `sent no byte for ${o.bodyIdleTimeoutMs / 1000} s`;
        return refuseBody(() => reject(w, "body_timeout", 408, "request_timeout", `the request body ${why}`, { connection: "close" }));
      }
      h.bodyTimer = setTimeout(check, Math.max(1, Math.min(idleAt, bodyDeadline) - t));
      bodyTimers.add(h.bodyTimer);
    };
    check();
    req.on("data", onData);
    req.on("end", onEnd);
  }

  function tooLarge(x: Exchange): void {
    reject(
      x,
      "body_too_large",
      413,
      "request_too_large",
      `the request body is larger than ${o.maxBodyBytes} bytes, the most the waker holds`,
      {
        connection: "close",
      },
    );
  }

  function shuttingDown(x: Exchange): void {
    answer(x, 503, "shutting_down", "the waker is shutting down; retry", {
      "retry-after": "1",
      "x-should-retry": "true",
      connection: "close",
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const w: Waiting = { req, res, arrivedAt: now() };
    if (closing) {
      shuttingDown(w);
      return;
    }
    // absolute-form (a proxy request) or "*": the upstream is the template's, never the client's choice
    if (!req.url?.startsWith("/")) {
      reject(w, "invalid_request", 400, "invalid_request", "the request target must be a path");
      return;
    }
    const badPath = pathProblem(req.url);
    if (badPath !== undefined) {
      reject(w, "invalid_request", 400, "invalid_request", `${badPath}; the waker does not forward it`);
      return;
    }
    // Node keeps the first of repeated Host headers; two of them is a smuggling attempt or a broken client
    const hostHeaders = req.rawHeaders.filter((x, i) => i % 2 === 0 && x.toLowerCase() === "host").length;
    const parsed = parseHost(hostHeaders > 1 ? [] : req.headers.host);
    if (!parsed.ok) {
      if (parsed.status === 404) {
        reject(w, "unknown_host", 404, "unknown_host", parsed.message);
        return;
      }
      reject(w, "invalid_request", 400, "invalid_request", parsed.message);
      return;
    }
    if (credential !== undefined) {
      unauthorized(w);
      return;
    }
    const ready = daemon.readyAnswer(parsed.host);
    if (ready !== undefined && gateOpen(ready)) forwardNow(w, parsed.host, ready);
    else route(w, parsed.host);
  }

  const server = createServer({ requireHostHeader: false }, handle);
  // slow headers are bounded here; slow held bodies by the body timeouts above
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
  // an error of the listening socket after start-up (EMFILE on accept) is logged; it must not end the process
  server.on("error", (e) => log.error("the waker's listening socket failed", { err: e }));
  const address = server.address() as AddressInfo;
  if (o.checkCredentialOnStart === true)
    daemon.checkCredential().then(
      (r) => {
        if (r.kind === "refused" && !closing) credentialRefused(r.reason);
      },
      () => undefined,
    );

  return {
    server,
    port: address.port,
    address: address.address,
    get held() {
      return hold.size;
    },
    get waiting() {
      return waitingCount;
    },
    get timers() {
      let n = bodyTimers.size + (expiry === undefined ? 0 : 1) + (credential?.timer === undefined ? 0 : 1);
      for (const s of hosts.values()) if (s.poll !== undefined) n += 1;
      for (const g of gates.values()) if (g.timer !== undefined) n += 1;
      return n;
    },
    ready() {
      return credential === undefined
        ? { ok: true, problems: [] }
        : { ok: false, problems: [`the daemon refuses the waker's credential: ${credential.refused}`] };
    },
    async close(graceMs = 10_000) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const host of [...hosts.keys(), ...hold.hosts()]) for (const x of takeAll(host)) shuttingDown(x);
      gauge();
      if (expiry !== undefined) clearTimeout(expiry.timer);
      expiry = undefined;
      for (const t of bodyTimers) clearTimeout(t);
      bodyTimers.clear();
      for (const g of gates.values()) if (g.timer !== undefined) clearTimeout(g.timer);
      gates.clear();
      if (credential?.timer !== undefined) clearTimeout(credential.timer);
      if (credential !== undefined) credential.timer = undefined;
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
