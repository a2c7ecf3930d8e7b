// A held request's body, kept as one buffer the waker owns. The chunks a socket delivers are views
// into larger read buffers: keeping them (a 5 MiB body sent a byte at a time is five million of
// them) keeps every read buffer alive, and memory grew a hundred times faster than the bytes.
// Copying each chunk into one buffer lets the read buffers go, and the buffer's capacity, not the
// count of bytes, is what the hold is charged: memory follows bytes.

/** The first capacity of a body of unknown length (chunked); it doubles as needed. */
const FIRST_CAPACITY = 16 * 1024;

export class HeldBody {
  #buffer: Buffer | undefined;
  #length = 0;
  readonly #expected: number | undefined;
  readonly #max: number;

  /** `expected`: the declared Content-Length, if any (the capacity then is exactly that). */
  constructor(expected: number | undefined, max: number) {
    this.#expected = expected;
    this.#max = max;
  }

  get length(): number {
    return this.#length;
  }
  /** Bytes this body takes in memory now. */
  get capacity(): number {
    return this.#buffer?.length ?? 0;
  }

  /**
   * The capacity needed to append `bytes` more: the current capacity when they fit, else the next
   * one (exactly the declared length, or double, at most `max`); undefined past `max`.
   */
  capacityFor(bytes: number): number | undefined {
    const need = this.#length + bytes;
    if (need > this.#max) return undefined;
    const have = this.capacity;
    if (need <= have) return have;
    if (this.#expected !== undefined && need <= this.#expected) return this.#expected;
    let next = Math.max(have, FIRST_CAPACITY);
    while (next < need) next *= 2;
    return Math.min(next, this.#max);
  }

  /** Appends a chunk; call capacityFor first and charge the difference. */
  append(chunk: Buffer): void {
    const capacity = this.capacityFor(chunk.length);
    if (capacity === undefined) throw new RangeError("body larger than its maximum");
    if (capacity !== this.capacity) {
      // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool
      const grown = Buffer.allocUnsafeSlow(capacity);
      this.#buffer?.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    chunk.copy(this.#buffer as Buffer, this.#length);
    this.#length += chunk.length;
  }

  /** The body as sent on: a view of the bytes received (no copy). */
  bytes(): Buffer {
    return this.#buffer === undefined ? Buffer.alloc(0) : this.#buffer.subarray(0, this.#length);
  }
}
