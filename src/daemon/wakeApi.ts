// The wake API on the daemon's report server: POST /wake/v1/requests, called by the waker for each
// host it holds requests for. Only the leader answers (it alone acts); the caller must be the
// waker's ServiceAccount, checked with a TokenReview (cached 60 s). The body is tiny and capped.
// Contract: docs/operations.md, "Wake API".
import { createHash } from "node:crypto";
import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WakePolicy } from "../api/servingSchedule.ts";
import {
  MAX_WAKE_REQUEST_BYTES,
  WAKE_PATH,
  type WakeAnswer,
  type WakeErrorBody,
  WakeRequest,
  type WakeResult,
  type WakeState,
} from "../api/wake.ts";
import { parseDuration } from "../schedule/index.ts";
import { parseServiceKey } from "../sources/kube/service.ts";

/** Longer than any ServiceAccount token (a JWT of one or two KiB): anything bigger is not one. */
const MAX_TOKEN_CHARS = 8192;

export type Identity = { kind: "ok"; username: string } | { kind: "invalid" } | { kind: "unavailable"; message: string };

/** One TokenReview: authenticated (with the user name) or not; throws when the apiserver could not say. */
export type ReviewToken = (token: string) => Promise<{ authenticated: boolean; username: string | undefined }>;

/**
 * TokenReviews with a cache: an answer (yes or no) is kept `ttlMs` (60 s) by the token's SHA-256,
 * at most `maxEntries`, oldest dropped first; one review in flight per token, at most `maxInFlight`
 * in all, so a flood of made-up tokens costs the apiserver a bounded number of reviews.
 */
export class TokenReviewer {
  readonly #review: ReviewToken;
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxInFlight: number;
  readonly #cache = new Map<string, { at: number; identity: Identity }>();
  readonly #inFlight = new Map<string, Promise<Identity>>();

  constructor(o: { review: ReviewToken; now: () => number; ttlMs?: number; maxEntries?: number; maxInFlight?: number }) {
    this.#review = o.review;
    this.#now = o.now;
    this.#ttlMs = o.ttlMs ?? 60_000;
    this.#maxEntries = o.maxEntries ?? 1000;
    this.#maxInFlight = o.maxInFlight ?? 16;
  }

  get cached(): number {
    return this.#cache.size;
  }

  check(token: string): Promise<Identity> {
    const key = createHash("sha256").update(token).digest("hex");
    const hit = this.#cache.get(key);
    if (hit && this.#now() - hit.at < this.#ttlMs) return Promise.resolve(hit.identity);
    if (hit) this.#cache.delete(key);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    if (this.#inFlight.size >= this.#maxInFlight)
      return Promise.resolve({ kind: "unavailable", message: "too many token reviews in flight; retry" });
    const p = this.#ask(token, key).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  async #ask(token: string, key: string): Promise<Identity> {
    let identity: Identity;
    try {
      const r = await this.#review(token);
      identity = r.authenticated && r.username ? { kind: "ok", username: r.username } : { kind: "invalid" };
    } catch (err) {
      // not cached: the next call asks again
      return {
        kind: "unavailable",
        message: `cannot check the token now: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300),
      };
    }
    while (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, { at: this.#now(), identity });
    return identity;
  }
}

/** The service a host belongs to and what the waker should do, or undefined for 404. */
export type WakeLookup = (
  host: string,
) => { namespace: string; name: string; state: WakeState; message: string; policy: WakePolicy | undefined } | undefined;

export type WakeApiOptions = {
  reviewer: Pick<TokenReviewer, "check">;
  /** The waker's user name: system:serviceaccount:<ns>:<name>. */
  wakerUser: string;
  isLeader: () => boolean;
  lookup: WakeLookup;
  /** Counts each answer by result (bounded: the results listed in docs/operations.md). */
  count?: (result: WakeResult) => void;
};

const DEFAULT_TIMEOUT_S = 300;
const DEFAULT_MAX_HELD = 100;

/** A handler for the report server: true when the request was the wake API's (answered), false when not its path. */
export function wakeApiHandler(o: WakeApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const count = o.count ?? (() => undefined);
  return async (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== WAKE_PATH && !path.startsWith("/wake/")) return false;
    const reply = (status: number, result: WakeResult, body: WakeAnswer | WakeErrorBody, headers: Record<string, string> = {}) => {
      count(result);
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
        ...headers,
      });
      res.end(text);
      // a request body nobody read is dropped with the connection, not read to its end
      if (!req.readableEnded) req.resume();
    };
    if (path !== WAKE_PATH) {
      reply(404, "NotFound", { error: `not found: the wake API is POST ${WAKE_PATH}` });
      return true;
    }
    if (req.method !== "POST") {
      reply(405, "Invalid", { error: "method not allowed: POST" }, { allow: "POST" });
      return true;
    }
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      reply(415, "Invalid", { error: "content-type must be application/json" });
      return true;
    }
    const auth = req.headers.authorization ?? "";
    const token = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(auth)?.[1];
    if (token === undefined || token.length > MAX_TOKEN_CHARS) {
      reply(
        401,
        "Unauthorized",
        { error: "a bearer token is required (the waker's ServiceAccount token)" },
        { "www-authenticate": "Bearer" },
      );
      return true;
    }
    const identity = await o.reviewer.check(token);
    if (identity.kind === "unavailable") {
      reply(503, "Unavailable", { error: identity.message }, { "retry-after": "1" });
      return true;
    }
    if (identity.kind === "invalid") {
      reply(401, "Unauthorized", { error: "the token is not valid" }, { "www-authenticate": "Bearer" });
      return true;
    }
    if (identity.username !== o.wakerUser) {
      reply(403, "Forbidden", { error: `${identity.username.slice(0, 200)} is not the waker (${o.wakerUser})` });
      return true;
    }
    if (!o.isLeader()) {
      reply(503, "NotLeader", { error: "not the leader" }, { "retry-after": "1" });
      return true;
    }
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > MAX_WAKE_REQUEST_BYTES) {
      reply(413, "Invalid", { error: `the body is limited to ${MAX_WAKE_REQUEST_BYTES} bytes` }, { connection: "close" });
      return true;
    }
    const body = await readCapped(req, MAX_WAKE_REQUEST_BYTES);
    if (body === undefined) {
      reply(413, "Invalid", { error: `the body is limited to ${MAX_WAKE_REQUEST_BYTES} bytes` }, { connection: "close" });
      return true;
    }
    const host = hostOf(body);
    if (typeof host !== "string") {
      reply(400, "Invalid", { error: host.error });
      return true;
    }
    const found = o.lookup(host);
    if (!found) {
      reply(404, "NotFound", { error: `no wake-enabled InferenceService has the host ${JSON.stringify(host.slice(0, 253))}` });
      return true;
    }
    const timeoutSeconds = found.policy ? Math.round(parseDuration(found.policy.timeout) / 1000) : DEFAULT_TIMEOUT_S;
    reply(200, found.state, {
      namespace: found.namespace,
      name: found.name,
      state: found.state,
      timeoutSeconds: Number.isFinite(timeoutSeconds) ? timeoutSeconds : DEFAULT_TIMEOUT_S,
      maxHeldRequests: found.policy?.maxHeldRequests ?? DEFAULT_MAX_HELD,
      retryAfterSeconds: found.state === "Refused" ? 60 : 2,
      message: found.message,
    });
    return true;
  };
}

/** The body, or undefined once it passes `max` bytes (the rest is not read). */
async function readCapped(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function hostOf(body: Buffer): string | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return { error: 'the body must be JSON: {"host": "..."}' };
  }
  const request = WakeRequest.safeParse(json);
  return request.success ? request.data.host : { error: '"host" must be a non-empty string of at most 300 characters' };
}

/** Asks the apiserver (TokenReview) whether a bearer token is the waker's, for the wake audience only. */
export function tokenReview(kubeConfig: KubeConfig, audience: string): ReviewToken {
  const authentication = kubeConfig.makeApiClient(AuthenticationV1Api);
  return async (token) => {
    const review = await authentication.createTokenReview({
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [audience] } },
    });
    // a token for another audience (the pod's API token, say) is not the waker's call
    const audienceOk = review.status?.audiences?.includes(audience) === true;
    return { authenticated: review.status?.authenticated === true && audienceOk, username: review.status?.user?.username };
  };
}

/** Host -> the service KServe routes it to -> what waking it means now (which starts it when it may). */
export function wakeLookup(
  hosts: { lookup(host: string): string | undefined },
  reconciler: { wake(key: string): Omit<NonNullable<ReturnType<WakeLookup>>, "namespace" | "name"> | undefined },
): WakeLookup {
  return (wakeHost) => {
    const k = hosts.lookup(wakeHost);
    if (k === undefined) return undefined;
    const { namespace, name } = parseServiceKey(k);
    const outcome = reconciler.wake(k);
    return outcome && { namespace, name, ...outcome };
  };
}
