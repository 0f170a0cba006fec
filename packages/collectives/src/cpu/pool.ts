// Reusable send buffers. A fresh large buffer costs page faults on first touch and garbage
// collection afterwards; segments of one size are sent over and over, so keep them.

const MIN_POOLED = 64 * 1024;
const MAX_PER_SIZE = 64;

export class BufferPool {
  readonly #free = new Map<number, Buffer[]>();

  take(bytes: number): Buffer {
    if (bytes < MIN_POOLED) return Buffer.allocUnsafe(bytes);
    return this.#free.get(bytes)?.pop() ?? Buffer.allocUnsafeSlow(bytes);
  }

  give(buf: Buffer): void {
    if (buf.byteLength < MIN_POOLED) return;
    const list = this.#free.get(buf.byteLength);
    if (!list) this.#free.set(buf.byteLength, [buf]);
    else if (list.length < MAX_PER_SIZE) list.push(buf);
  }
}
