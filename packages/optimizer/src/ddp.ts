// Data parallelism the way Megatron-Core's DistributedDataParallel does it: gradients accumulate
// in contiguous fp32 buffers (grad-buffer.ts) cut into buckets, and each bucket's all-reduce
// (average over the DP group; a reduce-scatter for the distributed optimizer) starts from a
// post-accumulate hook as soon as the bucket's last gradient arrives, while backward goes on.
//
// When is a bucket complete? Core runs a parameter's hook once per gradient it accumulates, and a
// parameter used twice in the forward (tied weights) accumulates twice. So the first synced
// backward reduces everything at finishGradSync() and records how many gradients each parameter
// received; from then on a bucket starts once every parameter has received that many. A gradient
// that arrives after its bucket started is an error with an explanation, never a silent race.
import type { ProcessGroup, Work } from '@tessera/collectives';
import type { Module, Parameter, Tensor } from '@tessera/core';
import { defaultBucketSize } from './buffer-layout.ts';
import { GradBuffer } from './grad-buffer.ts';
import { rangeOf } from './views.ts';

export interface DDPOptions {
  /** The data-parallel group (a ParallelState's `data`); omit when there is one replica. */
  dataParallel?: ProcessGroup;
  /** Elements per bucket (default Megatron's max(40M, 1M * dp size)). Ignored without overlap. */
  bucketSize?: number;
  /**
   * Start each bucket's reduction during backward (default true); false: one bucket, reduced at
   * finishGradSync() (with the distributed optimizer, plus one per tied embedding).
   */
  overlapGradReduce?: boolean;
  /**
   * Reduce-scatter instead of all-reduce, and keep parameters in buffers (for DistributedOptimizer).
   * Tied embeddings split over pipeline stages (meta.sharedEmbedding) then get a bucket of their own.
   */
  distributedOptimizer?: boolean;
  /** Alignment of each parameter in the buffers, in elements (default 64). */
  paramAlign?: number;
}

interface Bucket {
  buffer: GradBuffer;
  /** Index within its buffer. */
  index: number;
  params: Set<Parameter>;
  counts: Map<Parameter, number>;
  /** Parameters still waiting for their expected number of gradients. */
  pending: number;
  work: Work | undefined;
  /** This rank's shard of the bucket's gradients (the reduce-scatter output), with the distributed optimizer. */
  shard: Tensor | undefined;
}

const DONE: Work = { completed: true, wait: () => Promise.resolve(), waitSync: () => {} };

export class DistributedDataParallel<M extends Module = Module> {
  readonly module: M;
  readonly dataParallel: ProcessGroup | undefined;
  readonly buffers: GradBuffer[];
  readonly overlapGradReduce: boolean;
  readonly distributedOptimizer: boolean;
  readonly bucketSize: number;
  readonly #buckets: Bucket[] = [];
  readonly #bucketOf = new Map<Parameter, Bucket>();
  readonly #names = new Map<Parameter, string>();
  readonly #unhook: Array<() => void> = [];
  #expected: Map<Parameter, number> | undefined;
  #syncEnabled = true;
  /** Gradients arrived since the last finishGradSync()/zeroGradBuffers(). */
  #dirty = false;
  #disposed = false;

  constructor(module: M, options: DDPOptions = {}) {
    this.module = module;
    this.dataParallel = options.dataParallel;
    const dp = this.dpSize;
    this.overlapGradReduce = options.overlapGradReduce ?? true;
    this.distributedOptimizer = options.distributedOptimizer ?? false;
    this.bucketSize = this.overlapGradReduce ? (options.bucketSize ?? defaultBucketSize(dp)) : Number.POSITIVE_INFINITY;
    const byKind = new Map<string, { param: Parameter; name: string }[]>();
    for (const [name, param] of module.namedParameters()) {
      if (!param.requiresGrad) continue;
      const key = `${param.dtype}|${param.device}`;
      const list = byKind.get(key) ?? [];
      list.push({ param, name });
      byKind.set(key, list);
      this.#names.set(param, name);
    }
    if (byKind.size === 0) throw new Error('DistributedDataParallel: the module has no parameters that require grad');
    this.buffers = [];
    try {
      for (const list of byKind.values()) {
        this.buffers.push(
          new GradBuffer(list, {
            bucketSize: this.bucketSize,
            shardCount: this.distributedOptimizer ? dp : 1,
            paramAlign: options.paramAlign,
            paramBuffer: this.distributedOptimizer,
            // The first and last pipeline stage must shard tied embeddings the same way (see buffer-layout.ts).
            isolateSharedEmbedding: this.distributedOptimizer,
          }),
        );
      }
    } catch (err) {
      for (const b of this.buffers) b.dispose();
      throw err;
    }
    for (const buffer of this.buffers) {
      for (const b of buffer.layout.buckets) {
        const bucket: Bucket = {
          buffer, index: b.index, params: new Set(b.params.map((r) => r.param)), counts: new Map(), pending: 0, work: undefined,
          shard: this.distributedOptimizer ? this.#shardOf(buffer.bucketGrads(b.index)) : undefined,
        };
        this.#buckets.push(bucket);
        for (const p of bucket.params) this.#bucketOf.set(p, bucket);
      }
    }
    for (const p of this.#bucketOf.keys()) this.#unhook.push(p.registerPostAccumulateGradHook((leaf) => this.#onGrad(leaf as Parameter)));
  }

  get dpSize(): number {
    return this.dataParallel?.size ?? 1;
  }

  get dpRank(): number {
    return this.dataParallel?.rank ?? 0;
  }

  /** Number of buckets over all buffers. */
  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** Whether backward hooks start reductions (false inside noSync()). */
  get syncEnabled(): boolean {
    return this.#syncEnabled;
  }

  /** This rank's elements [start, end) of a bucket (relative to its buffer) with the distributed optimizer. */
  shardRange(buffer: GradBuffer, bucketIndex: number): { start: number; end: number } {
    const b = buffer.layout.buckets[bucketIndex];
    if (!b) throw new Error(`DistributedDataParallel: no bucket ${bucketIndex}`);
    const size = (b.end - b.start) / this.dpSize;
    const start = b.start + this.dpRank * size;
    return { start, end: start + size };
  }

  #shardOf(bucketGrads: Tensor): Tensor {
    const size = bucketGrads.numel / this.dpSize;
    return rangeOf(bucketGrads, this.dpRank * size, (this.dpRank + 1) * size);
  }

  /**
   * Runs fn (sync or async) without starting gradient reductions: gradient-accumulation
   * micro-steps. Gradients keep accumulating in the buffers; the last micro-step runs outside.
   */
  noSync<T>(fn: () => T): T {
    const prev = this.#syncEnabled;
    this.#syncEnabled = false;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.#syncEnabled = prev;
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(() => {
        this.#syncEnabled = prev;
      }) as T;
    }
    this.#syncEnabled = prev;
    return result;
  }

  #onGrad(p: Parameter): void {
    this.#dirty = true;
    if (!this.#syncEnabled) return;
    const b = this.#bucketOf.get(p) as Bucket;
    const count = (b.counts.get(p) ?? 0) + 1;
    b.counts.set(p, count);
    if (b.work) {
      throw new Error(
        `DistributedDataParallel: '${this.#names.get(p)}' received a gradient after its bucket's ${this.distributedOptimizer ? 'reduce-scatter' : 'all-reduce'} ` +
          `had started (it received ${count} gradients in this backward, ${this.#expected?.get(p) ?? 0} in the first one). ` +
          'Run gradient-accumulation micro-steps inside ddp.noSync(), call finishGradSync() after each synced backward, ' +
          'or build with overlapGradReduce: false when the model uses parameters a varying number of times.',
      );
    }
    if (!this.overlapGradReduce || !this.#expected) return;
    if (count === this.#expected.get(p)) {
      b.pending -= 1;
      if (b.pending === 0) this.#launch(b);
    }
  }

  #launch(b: Bucket): void {
    const g = this.dataParallel;
    if (!g || g.size === 1) {
      b.work = DONE;
      return;
    }
    const grads = b.buffer.bucketGrads(b.index);
    b.work = b.shard ? g.reduceScatter(b.shard, grads, 'avg') : g.allReduce(grads, 'avg');
  }

  /** Starts the reductions of every bucket that has not started yet. */
  startGradSync(): void {
    for (const b of this.#buckets) if (!b.work) this.#launch(b);
  }

  /**
   * Waits until every bucket is reduced across the data-parallel group (started now if it was
   * not); then each parameter's mainGrad holds the DP average (with the distributed optimizer:
   * only this rank's shard of each bucket does). Does nothing when no gradient arrived since the
   * last sync.
   */
  async finishGradSync(): Promise<void> {
    this.#check();
    if (!this.#syncEnabled) throw new Error('DistributedDataParallel.finishGradSync: called inside noSync(); call it after the last (synced) micro-step');
    if (!this.#dirty && this.#buckets.every((b) => !b.work)) return;
    this.startGradSync();
    await Promise.all(this.#buckets.map((b) => (b.work as Work).wait()));
    if (this.overlapGradReduce && !this.#expected) this.#learnExpected();
    this.#reset();
  }

  #learnExpected(): void {
    const expected = new Map<Parameter, number>();
    for (const b of this.#buckets) for (const [p, c] of b.counts) expected.set(p, c);
    this.#expected = expected;
  }

  #reset(): void {
    for (const b of this.#buckets) {
      b.counts.clear();
      b.work = undefined;
      b.pending = 0;
      if (this.#expected) for (const p of b.params) if ((this.#expected.get(p) ?? 0) > 0) b.pending += 1;
    }
    this.#dirty = false;
  }

  /** Zeroes every gradient buffer for the next iteration. */
  zeroGradBuffers(): void {
    this.#check();
    if (this.#buckets.some((b) => b.work && !b.work.completed)) {
      throw new Error('DistributedDataParallel.zeroGradBuffers: a gradient reduction is still running; await finishGradSync() first');
    }
    for (const buffer of this.buffers) buffer.zero();
    this.#reset();
  }

  /** Copies DP rank 0's parameters to every DP rank (replicas start identical). */
  async broadcastParams(): Promise<void> {
    const g = this.dataParallel;
    if (!g || g.size === 1) return;
    const works = this.buffers.flatMap((buf) => (buf.params ? [g.broadcast(buf.params, 0)] : buf.layout.params.map((r) => g.broadcast(r.param, 0))));
    await Promise.all(works.map((w) => w.wait()));
  }

  /** The name of a parameter in the module. */
  nameOf(p: Parameter): string | undefined {
    return this.#names.get(p);
  }

  #check(): void {
    if (this.#disposed) throw new Error('DistributedDataParallel: used after dispose()');
  }

  /** Removes the hooks and frees the buffers (parameters keep their values; mainGrad is cleared). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const off of this.#unhook) off();
    for (const b of this.#buckets) b.shard?.dispose();
    for (const buf of this.buffers) buf.dispose();
  }
}
