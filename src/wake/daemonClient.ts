// The waker's side of the daemon's wake API: POST /wake/v1/requests {"host"} with the waker's
// ServiceAccount token. One call in flight per host (a burst of requests for a stopped service is
// one question, not a stampede), at most `maxInFlight` in all (2,000 random hosts are 2,000
// questions, asked a few at a time), and a "Ready" answer kept for a few seconds so a running
// service costs no call per request. The token file is re-read when it changes: projected tokens
// rotate. A credential the daemon refuses (401, 403) or a token file that cannot be read is a
// configuration fault, told apart from a daemon that is merely away.
import { stat, readFile } from "node:fs/promises";
import { WAKE_PATH, WakeAnswer, WakeErrorBody } from "../api/wake.ts";

export type DaemonReply =
  | { kind: "answer"; answer: WakeAnswer }
  /** 404: no wake-enabled InferenceService has this host. */
  | { kind: "unknown"; message: string }
  /** 401/403 (after reading the token file again), or no usable token file: nothing will work until an operator acts. */
  | { kind: "refused"; reason: string }
  /** Anything else (unreachable, not the leader, a reply that does not parse): ask again later. */
  | { kind: "unavailable"; reason: string };

export type DaemonClientOptions = {
  /** Base URL of the daemon's report server, e.g. http://kserve-reclaimer-metrics.kserve-reclaimer.svc:8080 */
  daemonUrl: string;
  tokenFile: string;
  now: () => number;
  /** How long a Ready answer is trusted without asking again. Default 5 s. */
  readyCacheMs?: number;
  /** Timeout of one call. Default 5 s. */
  callTimeoutMs?: number;
  /** Calls in flight at once across all hosts; more wait their turn. Default 16. */
  maxInFlight?: number;
  /** Called once per call actually sent (for the wake_requests metric). */
  onCall?: () => void;
};

/** A host no service can have (RFC 2606 .invalid): the credential check asks for it, the daemon answers 404 once it accepts the token. */
export const CREDENTIAL_CHECK_HOST = "credential-check.invalid";

/** A reply bigger than this is not the daemon's small JSON: read no further. */
const MAX_REPLY_BYTES = 64 * 1024;
/** Ready answers kept at most; past it the expired ones are swept (hosts in it are real services). */
const READY_CACHE_SWEEP = 1_000;

export class DaemonClient {
  readonly #url: string;
  readonly #tokenFile: string;
  readonly #now: () => number;
  readonly #readyCacheMs: number;
  readonly #callTimeoutMs: number;
  readonly #onCall: (() => void) | undefined;
  readonly #maxInFlight: number;
  readonly #inFlight = new Map<string, Promise<DaemonReply>>();
  /** Calls waiting for a slot, in order; bounded by the hosts asked about, which the server bounds. */
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  readonly #ready = new Map<string, { answer: WakeAnswer; until: number }>();
  #token: { key: string; value: string } | undefined;

  constructor(options: DaemonClientOptions) {
    this.#url = new URL(WAKE_PATH, options.daemonUrl).href;
    this.#tokenFile = options.tokenFile;
    this.#now = options.now;
    this.#readyCacheMs = options.readyCacheMs ?? 5_000;
    this.#callTimeoutMs = options.callTimeoutMs ?? 5_000;
    this.#onCall = options.onCall;
    this.#maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 16) || 16);
  }

  /** The cached Ready answer for a host, if it is recent enough to forward without asking. */
  readyAnswer(host: string): WakeAnswer | undefined {
    const cached = this.#ready.get(host);
    if (cached === undefined) return undefined;
    if (cached.until > this.#now()) return cached.answer;
    this.#ready.delete(host);
    return undefined;
  }

  /** The upstream refused a connection: whatever the cache said, the service is not serving. */
  forget(host: string): void {
    this.#ready.delete(host);
  }

  /** Asks the daemon about a host; a call already in flight for it is shared, not repeated. */
  ask(host: string): Promise<DaemonReply> {
    const pending = this.#inFlight.get(host);
    if (pending !== undefined) return pending;
    const call = this.#slot()
      .then(() => this.#call(host))
      .finally(() => {
        this.#inFlight.delete(host);
        this.#running -= 1;
        this.#waiting.shift()?.();
      });
    this.#inFlight.set(host, call);
    return call;
  }

  /** Whether the daemon accepts the waker's credential now ("refused" if not); asks about a host no service has. */
  checkCredential(): Promise<DaemonReply> {
    return this.ask(CREDENTIAL_CHECK_HOST);
  }

  /** Hosts asked about now, sent or waiting for a slot (tests: no stampede). */
  get inFlight(): number {
    return this.#inFlight.size;
  }
  /** Calls sent and not answered yet (at most maxInFlight). */
  get running(): number {
    return this.#running;
  }

  #slot(): Promise<void> {
    if (this.#running < this.#maxInFlight) {
      this.#running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#running += 1;
        resolve();
      }),
    );
  }

  async #call(host: string, retried = false): Promise<DaemonReply> {
    let token: string;
    try {
      token = await this.#readToken();
    } catch (e) {
      return {
        kind: "refused",
        reason: `cannot read the token file ${this.#tokenFile}: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
    this.#onCall?.();
    let status: number;
    let text: string;
    try {
      const res = await fetch(this.#url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ host }),
        signal: AbortSignal.timeout(this.#callTimeoutMs),
        redirect: "error",
      });
      status = res.status;
      text = await readCapped(res);
    } catch (e) {
      return { kind: "unavailable", reason: `daemon unreachable: ${describe(e)}` };
    }
    if (status === 401 || status === 403) {
      // the file may have rotated since it was read: read it again, and ask once more if it did
      this.#token = undefined;
      if (!retried) {
        const fresh = await this.#readToken().catch(() => undefined);
        if (fresh !== undefined && fresh !== token) return this.#call(host, true);
      }
      const message = errorMessage(text);
      return { kind: "refused", reason: `the daemon refused the waker's token (${status}${message === undefined ? "" : `: ${message}`})` };
    }
    if (status === 200) {
      let parsed: ReturnType<typeof WakeAnswer.safeParse>;
      try {
        parsed = WakeAnswer.safeParse(JSON.parse(text));
      } catch {
        return { kind: "unavailable", reason: "daemon answered 200 with a body that is not JSON" };
      }
      if (!parsed.success)
        return { kind: "unavailable", reason: `daemon answered 200 with an unexpected body: ${parsed.error.issues[0]?.message ?? ""}` };
      if (parsed.data.state === "Ready") {
        if (this.#ready.size >= READY_CACHE_SWEEP) this.#sweep();
        this.#ready.set(host, { answer: parsed.data, until: this.#now() + this.#readyCacheMs });
      } else this.#ready.delete(host);
      return { kind: "answer", answer: parsed.data };
    }
    const message = errorMessage(text);
    if (status === 404) {
      this.#ready.delete(host);
      return { kind: "unknown", message: message ?? "no InferenceService has this host" };
    }
    return { kind: "unavailable", reason: `daemon answered ${status}${message === undefined ? "" : `: ${message}`}` };
  }

  async #readToken(): Promise<string> {
    // stat is cheap; the file is read again only when it is another file (a rotated projected
    // token is a new file behind a symlink) or it changed
    const s = await stat(this.#tokenFile);
    const key = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (this.#token?.key === key) return this.#token.value;
    if (s.size > 64 * 1024) throw new Error(`it has ${s.size} bytes, more than a token`);
    const value = (await readFile(this.#tokenFile, "utf8")).trim();
    if (value === "") throw new Error("it is empty");
    if (/[\r\n\0]/.test(value)) throw new Error("it holds more than one line");
    this.#token = { key, value };
    return value;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [host, c] of this.#ready) if (c.until <= now) this.#ready.delete(host);
    // still full of fresh answers: the oldest go first (a Map keeps insertion order)
    for (const host of this.#ready.keys()) {
      if (this.#ready.size < READY_CACHE_SWEEP) break;
      this.#ready.delete(host);
    }
  }
}

async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_REPLY_BYTES) {
      await reader.cancel();
      throw new Error(`reply larger than ${MAX_REPLY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function errorMessage(text: string): string | undefined {
  try {
    const parsed = WakeErrorBody.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.error : undefined;
  } catch {
    return undefined;
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  if (e.name === "TimeoutError") return "timed out";
  if (typeof cause?.code === "string") return cause.code;
  // undici's "fetch failed" says why only in its cause ("bad port", "invalid onRequestStart method")
  if (typeof cause?.message === "string") return `${e.message}: ${cause.message}`;
  return e.message;
}
