// Bookkeeping of the requests the waker holds while their InferenceService starts: which host each
// waits for, its deadline, the bytes it keeps in memory, and the caps (total requests, total bytes,
// requests per service). Pure: no timers, no sockets, the clock is an argument. The server arms one
// timer at nextDeadline() and calls expire(now) when it fires.

/** What the daemon said about a host's service; unknown until its first answer. */
export type HeldService = { key: string; maxHeldRequests: number };

export type HeldRequest<T> = {
  readonly id: number;
  readonly host: string;
  readonly arrivedAt: number;
  deadline: number;
  bytes: number;
  service: string | undefined;
  readonly payload: T;
};

export type HoldLimits = {
  /** Requests held at once, across every host (--max-held-requests). */
  maxRequests: number;
  /** Bytes held at once (bodies and headers), across every host (--max-held-bytes). */
  maxBytes: number;
};

export type Admission<T> = { ok: true; entry: HeldRequest<T> } | { ok: false; cause: "queue_full" };

export class Hold<T> {
  readonly #limits: HoldLimits;
  readonly #entries = new Map<number, HeldRequest<T>>();
  // host -> ids in arrival order; a host leaves the map with its last request, so the map is bounded by what is held
  readonly #byHost = new Map<string, Set<number>>();
  readonly #perService = new Map<string, number>();
  #bytes = 0;
  #nextId = 1;

  constructor(limits: HoldLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }
  get bytes(): number {
    return this.#bytes;
  }
  /** Hosts with at least one request held. */
  hosts(): string[] {
    return [...this.#byHost.keys()];
  }

  /**
   * Holds one more request for `host` (with `bytes` known so far, e.g. its headers) if every cap
   * allows it; `service`: the host's service and its own cap, when the daemon already named it.
   */
  admit(host: string, arrivedAt: number, deadline: number, bytes: number, payload: T, service?: HeldService): Admission<T> {
    if (this.#entries.size >= this.#limits.maxRequests || this.#bytes + bytes > this.#limits.maxBytes)
      return { ok: false, cause: "queue_full" };
    if (service !== undefined && (this.#perService.get(service.key) ?? 0) >= service.maxHeldRequests)
      return { ok: false, cause: "queue_full" };
    const entry: HeldRequest<T> = { id: this.#nextId++, host, arrivedAt, deadline, bytes, service: undefined, payload };
    this.#entries.set(entry.id, entry);
    let ids = this.#byHost.get(host);
    if (ids === undefined) this.#byHost.set(host, (ids = new Set()));
    ids.add(entry.id);
    this.#bytes += bytes;
    if (service !== undefined) this.#setService(entry, service.key);
    return { ok: true, entry };
  }

  /** More of a request's body arrived; false (nothing counted) when the bytes cap would be exceeded. */
  grow(id: number, bytes: number): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    if (this.#bytes + bytes > this.#limits.maxBytes) return false;
    entry.bytes += bytes;
    this.#bytes += bytes;
    return true;
  }

  get(id: number): HeldRequest<T> | undefined {
    return this.#entries.get(id);
  }

  /** Removes a request (answered, forwarded, or its client went away); idempotent. */
  release(id: number): HeldRequest<T> | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    const ids = this.#byHost.get(entry.host);
    ids?.delete(id);
    if (ids?.size === 0) this.#byHost.delete(entry.host);
    if (entry.service !== undefined) {
      const n = (this.#perService.get(entry.service) ?? 1) - 1;
      if (n <= 0) this.#perService.delete(entry.service);
      else this.#perService.set(entry.service, n);
    }
    return entry;
  }

  /** How many requests are held for a host. */
  countHost(host: string): number {
    return this.#byHost.get(host)?.size ?? 0;
  }

  /** The requests held for a host, oldest first. */
  forHost(host: string): HeldRequest<T>[] {
    return [...(this.#byHost.get(host) ?? [])].map((id) => this.#entries.get(id) as HeldRequest<T>);
  }

  /** Removes and returns every request held for a host (to forward or answer them all). */
  takeHost(host: string): HeldRequest<T>[] {
    const taken = this.forHost(host);
    for (const e of taken) this.release(e.id);
    return taken;
  }

  /**
   * The daemon named the host's service: each request's deadline becomes arrival + the service's
   * timeout, and the requests beyond the service's cap (the newest) are removed and returned, to be
   * answered queue_full.
   */
  assignService(host: string, service: HeldService, timeoutMs: number): HeldRequest<T>[] {
    const overflow: HeldRequest<T>[] = [];
    for (const entry of this.forHost(host)) {
      entry.deadline = entry.arrivedAt + timeoutMs;
      if (entry.service === service.key) continue;
      if (entry.service !== undefined) {
        // the host now belongs to another service (renamed, recreated): count it there instead
        const old = entry.service;
        const n = (this.#perService.get(old) ?? 1) - 1;
        if (n <= 0) this.#perService.delete(old);
        else this.#perService.set(old, n);
        entry.service = undefined;
      }
      if ((this.#perService.get(service.key) ?? 0) >= service.maxHeldRequests) {
        this.release(entry.id);
        overflow.push(entry);
      } else this.#setService(entry, service.key);
    }
    return overflow;
  }

  /** Removes and returns the requests whose deadline is at or before `now`. */
  expire(now: number): HeldRequest<T>[] {
    const expired: HeldRequest<T>[] = [];
    for (const entry of this.#entries.values()) if (entry.deadline <= now) expired.push(entry);
    for (const e of expired) this.release(e.id);
    return expired;
  }

  /** The earliest deadline of what is held, or undefined when nothing is. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const entry of this.#entries.values()) if (next === undefined || entry.deadline < next) next = entry.deadline;
    return next;
  }

  #setService(entry: HeldRequest<T>, key: string): void {
    entry.service = key;
    this.#perService.set(key, (this.#perService.get(key) ?? 0) + 1);
  }
}
