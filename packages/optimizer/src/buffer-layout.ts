// Where each parameter's gradient lives in the contiguous fp32 gradient buffer, and how the buffer
// is cut into buckets. Parameters are placed in reverse model order (the order backward produces
// their gradients), so the first bucket fills first and its reduction starts earliest; a bucket is
// closed once it holds at least `bucketSize` elements (a parameter is never split between buckets).
// Each parameter starts at a multiple of `paramAlign` elements (aligned vector loads in the fused
// kernels); with `shardCount` > 1 (the distributed optimizer) every bucket is padded to a multiple
// of shardCount * 128 elements (and of paramAlign) so it splits into equal, 128-aligned shards, one
// per DP rank.
//
// With `isolateSharedEmbedding` (the distributed optimizer; Megatron-Core does the same), a
// parameter marked meta.sharedEmbedding (tied word embeddings split over pipeline stages: the first
// stage's word embeddings, the last stage's copy) gets a bucket of its own, starting at the
// bucket's first element. Its bucket then has the same size and the same shards on both stages,
// whatever else each stage holds, so summing the reduce-scattered gradient over the embedding group
// (allReduceEmbeddingGrads in @tessera/pipeline) adds matching elements.
import type { Tensor } from '@tessera/core';

export interface LayoutOptions {
  /** Close a bucket once it holds this many elements; Infinity: one bucket. */
  bucketSize: number;
  /** Number of equal shards every bucket must split into (the DP size for the distributed optimizer; else 1). */
  shardCount: number;
  /** Alignment of each parameter's first element, in elements (default 64). */
  paramAlign?: number;
  /** Give every parameter with meta.sharedEmbedding === true a bucket of its own (default false). */
  isolateSharedEmbedding?: boolean;
}

export interface ParamRange<P extends Tensor = Tensor> {
  param: P;
  name: string | undefined;
  /** Elements [start, end) of the buffer. */
  start: number;
  end: number;
  bucket: number;
}

export interface BucketRange<P extends Tensor = Tensor> {
  index: number;
  /** Elements [start, end) of the buffer, padding included. */
  start: number;
  end: number;
  params: ParamRange<P>[];
}

export interface BufferLayout<P extends Tensor = Tensor> {
  /** In buffer order (reverse model order). */
  params: ParamRange<P>[];
  buckets: BucketRange<P>[];
  /** Total elements, padding included. */
  size: number;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Whether a parameter is a tied word embedding shared between pipeline stages (meta.sharedEmbedding). */
export function isSharedEmbedding(param: Tensor): boolean {
  return (param as Tensor & { meta?: Record<string, unknown> }).meta?.sharedEmbedding === true;
}

/** Megatron's default bucket size for a DP size: max(40M, 1M * dp) elements. */
export function defaultBucketSize(dpSize: number): number {
  return Math.max(40_000_000, 1_000_000 * dpSize);
}

export function planLayout<P extends Tensor>(params: readonly { param: P; name?: string }[], options: LayoutOptions): BufferLayout<P> {
  const { bucketSize, shardCount } = options;
  const align = options.paramAlign ?? 64;
  if (!(bucketSize > 0)) throw new Error(`planLayout: bucketSize must be positive, got ${bucketSize}`);
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new Error(`planLayout: shardCount must be a positive integer, got ${shardCount}`);
  if (!Number.isInteger(align) || align < 1) throw new Error(`planLayout: paramAlign must be a positive integer, got ${align}`);
  // A multiple of align too, so that every bucket starts aligned: a parameter alone in its bucket
  // then starts at the bucket's first element (for the default align, 64, shardCount * 128 already is).
  const shardMultiple = shardCount * 128;
  const bucketMultiple = shardCount > 1 ? (shardMultiple / gcd(shardMultiple, align)) * align : align;
  const placed: ParamRange<P>[] = [];
  const buckets: BucketRange<P>[] = [];
  let bucketStart = 0;
  let cursor = 0;
  let current: ParamRange<P>[] = [];
  const close = () => {
    const end = roundUp(Math.max(cursor, bucketStart + 1), bucketMultiple);
    buckets.push({ index: buckets.length, start: bucketStart, end, params: current });
    bucketStart = end;
    cursor = end;
    current = [];
  };
  for (let i = params.length - 1; i >= 0; i--) {
    const { param, name } = params[i] as { param: P; name?: string };
    const isolate = options.isolateSharedEmbedding === true && isSharedEmbedding(param);
    if (isolate && current.length > 0) close();
    const start = roundUp(cursor, align);
    const range: ParamRange<P> = { param, name, start, end: start + param.numel, bucket: buckets.length };
    placed.push(range);
    current.push(range);
    cursor = range.end;
    if (isolate || cursor - bucketStart >= bucketSize) close();
  }
  if (current.length > 0) close();
  return { params: placed, buckets, size: bucketStart };
}
