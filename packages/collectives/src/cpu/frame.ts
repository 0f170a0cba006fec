// Frames of the cpu backend's peer connections: a fixed 32-byte header, then `length` payload bytes.
// DATA frames carry what the collective is about (op, dtype, element count, reduce op, root), so
// the receiver can tell when ranks called different collectives or passed different tensors.

export const HEADER_BYTES = 32;

export const FrameType = { hello: 1, data: 2, abort: 3, bye: 4 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Collectives are matched by a group-wide sequence number; p2p messages by a per-peer count. */
export const Channel = { collective: 1, p2p: 2 } as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

export const OP_NAMES = ['none', 'allReduce', 'reduceScatter', 'allGather', 'broadcast', 'barrier', 'send'] as const;
export type OpName = (typeof OP_NAMES)[number];
export const REDUCE_NAMES = ['none', 'sum', 'avg', 'max', 'min'] as const;
export type ReduceName = (typeof REDUCE_NAMES)[number];
export const DTYPE_NAMES = ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'bool'] as const;

/** What every member of a collective (or both ends of a p2p message) must agree on. */
export interface OpMeta {
  op: OpName;
  dtype: string;
  numel: number;
  reduce: ReduceName;
  root: number;
}

export interface FrameHeader {
  type: FrameType;
  channel: Channel;
  gid: number;
  seq: number;
  meta: OpMeta;
  length: number;
}

export const NO_META: OpMeta = { op: 'none', dtype: 'f32', numel: 0, reduce: 'none', root: 0 };

export function encodeHeader(h: FrameHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt8(h.type, 0);
  b.writeUInt8(h.channel, 1);
  b.writeUInt8(OP_NAMES.indexOf(h.meta.op), 2);
  b.writeUInt8(Math.max(0, DTYPE_NAMES.indexOf(h.meta.dtype as (typeof DTYPE_NAMES)[number])), 3);
  b.writeUInt32LE(h.gid >>> 0, 4);
  b.writeUInt32LE(h.seq >>> 0, 8);
  b.writeUInt8(REDUCE_NAMES.indexOf(h.meta.reduce), 12);
  b.writeDoubleLE(h.meta.numel, 16);
  b.writeUInt32LE(h.meta.root >>> 0, 24);
  b.writeUInt32LE(h.length >>> 0, 28);
  return b;
}

export function decodeHeader(b: Buffer): FrameHeader {
  return {
    type: b.readUInt8(0) as FrameType,
    channel: b.readUInt8(1) as Channel,
    gid: b.readUInt32LE(4),
    seq: b.readUInt32LE(8),
    meta: {
      op: OP_NAMES[b.readUInt8(2)] ?? 'none',
      dtype: DTYPE_NAMES[b.readUInt8(3)] ?? '?',
      numel: b.readDoubleLE(16),
      reduce: REDUCE_NAMES[b.readUInt8(12)] ?? 'none',
      root: b.readUInt32LE(24),
    },
    length: b.readUInt32LE(28),
  };
}

/**
 * Reassembles frames from a byte stream. A payload comes out as the pieces of the socket chunks
 * that carried it (socket chunks are never reused), so nothing is copied here; consumers write the
 * pieces where they belong.
 */
export class FrameParser {
  readonly #head = Buffer.alloc(HEADER_BYTES);
  #headBytes = 0;
  #header: FrameHeader | undefined;
  #parts: Buffer[] = [];
  #filled = 0;
  readonly #emit: (header: FrameHeader, payload: Buffer[]) => void;

  constructor(emit: (header: FrameHeader, payload: Buffer[]) => void) {
    this.#emit = emit;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length || (this.#header && this.#filled === this.#header.length)) {
      if (!this.#header) {
        const n = Math.min(HEADER_BYTES - this.#headBytes, chunk.length - off);
        chunk.copy(this.#head, this.#headBytes, off, off + n);
        this.#headBytes += n;
        off += n;
        if (this.#headBytes < HEADER_BYTES) return;
        this.#headBytes = 0;
        this.#header = decodeHeader(this.#head);
        this.#parts = [];
        this.#filled = 0;
        continue;
      }
      const header = this.#header;
      const n = Math.min(header.length - this.#filled, chunk.length - off);
      if (n > 0) {
        this.#parts.push(chunk.subarray(off, off + n));
        this.#filled += n;
        off += n;
      }
      if (this.#filled === header.length) {
        const parts = this.#parts;
        this.#header = undefined;
        this.#parts = [];
        this.#emit(header, parts);
      }
    }
  }
}

/** Bytes in a payload made of pieces. */
export function payloadBytes(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

/** A 32-bit id for a group key (FNV-1a), carried in every frame. */
export function groupId(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
