// The rendezvous store's wire format: one JSON object per line in each direction, values as base64.
// Requests carry an id that the response repeats, so one connection serves concurrent requests.
import type { DistributedErrorCode } from '../errors.ts';

export type StoreRequest =
  | { id: number; op: 'set'; key: string; value: string }
  | { id: number; op: 'get'; key: string; timeoutMs: number }
  | { id: number; op: 'add'; key: string; delta: number }
  | { id: number; op: 'wait'; keys: string[]; timeoutMs: number }
  | { id: number; op: 'delete'; key: string }
  | { id: number; op: 'cas'; key: string; expected: string; desired: string }
  | { id: number; op: 'has'; keys: string[] };

export type StoreResponse =
  | { id: number; ok: true; value?: string; num?: number; flags?: boolean[] }
  | { id: number; ok: false; code: DistributedErrorCode; error: string };

/** Splits a byte stream into lines (the last, unfinished line waits for more bytes). */
export class LineSplitter {
  #pending = '';

  push(chunk: Buffer | string): string[] {
    const text = this.#pending + chunk.toString();
    const lines = text.split('\n');
    this.#pending = lines.pop() ?? '';
    return lines.filter((l) => l.length > 0);
  }
}

export function encodeValue(value: string | Uint8Array): string {
  return typeof value === 'string' ? Buffer.from(value, 'utf8').toString('base64') : Buffer.from(value).toString('base64');
}

export function decodeValue(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64'));
}
