// Ring algorithms of the cpu backend. The data is cut into one chunk per member, and chunks travel
// around the ring (member r sends to r+1 and receives from r-1): a reduce-scatter pass adds each
// member's part into the chunk on its way, an all-gather pass hands every finished chunk on. Each
// member sends and receives 2(n-1)/n of the data, whatever the group size. Chunks are cut into
// segments, so that reducing one segment overlaps the transfer of the next.
import { bytesPerElement, comm, empty, keep, type Tensor } from '@tessera/core';
import { DistributedError } from '../errors.ts';
import { payloadBytes } from './frame.ts';
import type { OpContext } from './op.ts';

type Combine = comm.ElementwiseReduceOp;

/** Member i's chunk of n elements: [start[i], start[i] + count[i]); sizes differ by at most one. */
export function chunkBounds(n: number, parts: number): { start: number[]; count: number[] } {
  const start: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * n) / parts);
    const b = Math.floor(((i + 1) * n) / parts);
    start.push(a);
    count.push(b - a);
  }
  return { start, count };
}

/** [offset, length] pieces of a range; always at least one (possibly empty) piece, so every step sends a frame. */
export function segments(start: number, count: number, segmentElems: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let off = 0; off < count; off += segmentElems) out.push([start + off, Math.min(segmentElems, count - off)]);
  if (out.length === 0) out.push([start, 0]);
  return out;
}

export function segmentElems(ctx: OpContext, t: Tensor): number {
  return Math.max(1, Math.floor(ctx.group.segmentBytes / bytesPerElement(t.dtype)));
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/** The next segment from `from`, which must hold `len` elements of t's dtype. */
async function recvSegment(ctx: OpContext, from: number, t: Tensor, len: number): Promise<Buffer[]> {
  return expectSegment(ctx, from, await ctx.recv(from), t, len);
}

/** Writes a received segment (in pieces) into t from element `start` on. */
export function writeSegment(t: Tensor, start: number, parts: readonly Buffer[]): void {
  let at = start * bytesPerElement(t.dtype);
  for (const p of parts) {
    comm.writeBytes(t, at, p);
    at += p.byteLength;
  }
}

/** Checks that a received segment holds `len` elements of t's dtype. */
export function expectSegment(ctx: OpContext, from: number, payload: Buffer[], t: Tensor, len: number): Buffer[] {
  const bytes = payloadBytes(payload);
  if (bytes !== len * bytesPerElement(t.dtype)) {
    throw new DistributedError(
      'MISMATCH',
      `rank ${ctx.group.ranks[from]} sent a segment of ${bytes} bytes where ${len * bytesPerElement(t.dtype)} were ` +
        'expected: TESSERA_CPU_SEGMENT_BYTES must be the same on every rank',
    );
  }
  return payload;
}

function scratchFor(t: Tensor, elems: number): Tensor {
  return keep(empty([elems], { dtype: t.dtype, device: 'cpu' }));
}

/** In place: every member ends with op over all members' `t`. */
export async function ringAllReduce(ctx: OpContext, t: Tensor, op: Combine): Promise<void> {
  const n = ctx.size;
  const r = ctx.rank;
  if (n === 1) return;
  const next = mod(r + 1, n);
  const prev = mod(r - 1, n);
  const { start, count } = chunkBounds(t.numel, n);
  const seg = segmentElems(ctx, t);
  const scratch = scratchFor(t, Math.min(seg, Math.max(...count)));
  try {
    // Reduce-scatter: step s sends chunk r-s-1 and receives chunk r-s-2, which it sends on at
    // step s+1; after n-1 steps chunk r holds everyone's contribution.
    const first = mod(r - 1, n);
    for (const [off, len] of segments(start[first] as number, count[first] as number, seg)) ctx.sendElements(next, t, off, len);
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s - 2, n);
      for (const [off, len] of segments(start[c] as number, count[c] as number, seg)) {
        const payload = await recvSegment(ctx, prev, t, len);
        writeSegment(scratch, 0, payload);
        comm.reduceElements(op, t, off, scratch, 0, len);
        // The next reduce-scatter step sends this chunk on; after the last step it is chunk r,
        // finished, and the all-gather starts by sending it.
        ctx.sendElements(next, t, off, len);
      }
    }
    // All-gather: step s receives finished chunk r-s-1 and passes it on (except at the last step).
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s - 1, n);
      for (const [off, len] of segments(start[c] as number, count[c] as number, seg)) {
        const payload = await recvSegment(ctx, prev, t, len);
        writeSegment(t, off, payload);
        if (s < n - 2) ctx.send(next, payload);
      }
    }
    await ctx.flush();
  } finally {
    scratch.dispose();
  }
}

/** Member r's `output` gets op over all members' chunk r of `input` (input = size equal chunks). */
export async function ringReduceScatter(ctx: OpContext, output: Tensor, input: Tensor, op: Combine): Promise<void> {
  const n = ctx.size;
  const r = ctx.rank;
  const m = output.numel;
  if (n === 1) {
    comm.copyElements(output, 0, input, 0, m);
    return;
  }
  const next = mod(r + 1, n);
  const prev = mod(r - 1, n);
  const seg = segmentElems(ctx, input);
  const scratch = scratchFor(input, Math.min(seg, Math.max(m, 1)));
  try {
    const first = mod(r - 1, n);
    for (const [off, len] of segments(first * m, m, seg)) ctx.sendElements(next, input, off, len);
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s - 2, n);
      for (const [off, len] of segments(c * m, m, seg)) {
        const payload = await recvSegment(ctx, prev, input, len);
        // Partial results stay in scratch: `input` is left untouched, and `output` may alias
        // this member's chunk of it (the in-place form).
        writeSegment(scratch, 0, payload);
        comm.reduceElements(op, scratch, 0, input, off, len);
        if (s < n - 2) ctx.sendElements(next, scratch, 0, len);
        else comm.copyElements(output, off - c * m, scratch, 0, len);
      }
    }
    await ctx.flush();
  } finally {
    scratch.dispose();
  }
}

/** `output` gets every member's `input`, member i's at chunk i. */
export async function ringAllGather(ctx: OpContext, output: Tensor, input: Tensor): Promise<void> {
  const n = ctx.size;
  const r = ctx.rank;
  const m = input.numel;
  comm.copyElements(output, r * m, input, 0, m);
  if (n === 1) return;
  const next = mod(r + 1, n);
  const prev = mod(r - 1, n);
  const seg = segmentElems(ctx, input);
  for (const [off, len] of segments(0, m, seg)) ctx.sendElements(next, input, off, len);
  for (let s = 0; s < n - 1; s++) {
    const c = mod(r - s - 1, n);
    for (const [off, len] of segments(c * m, m, seg)) {
      const payload = await recvSegment(ctx, prev, input, len);
      writeSegment(output, off, payload);
      if (s < n - 2) ctx.send(next, payload);
    }
  }
  await ctx.flush();
}

/**
 * In place: every member ends with member `root`'s tensor. A pipelined chain root -> root+1 -> ...:
 * each member passes a segment on as soon as it has it.
 */
export async function chainBroadcast(ctx: OpContext, t: Tensor, root: number): Promise<void> {
  const n = ctx.size;
  if (n === 1) return;
  const r = ctx.rank;
  const pos = mod(r - root, n);
  const next = mod(r + 1, n);
  const prev = mod(r - 1, n);
  const seg = segmentElems(ctx, t);
  for (const [off, len] of segments(0, t.numel, seg)) {
    if (pos === 0) {
      ctx.sendElements(next, t, off, len);
      continue;
    }
    const payload = await recvSegment(ctx, prev, t, len);
    writeSegment(t, off, payload);
    if (pos < n - 1) ctx.send(next, payload);
  }
  await ctx.flush();
}

/** Dissemination barrier: in round k each member signals member +2^k and hears from member -2^k. */
export async function disseminationBarrier(ctx: OpContext): Promise<void> {
  const n = ctx.size;
  for (let d = 1; d < n; d *= 2) {
    ctx.send(mod(ctx.rank + d, n), []);
    await ctx.recv(mod(ctx.rank - d, n));
  }
  await ctx.flush();
}
