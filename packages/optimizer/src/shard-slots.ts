// The distributed optimizer's view of its shard: every bucket of every gradient buffer is split
// into dpSize equal ranges, and this rank owns one range per bucket. Each parameter that overlaps
// the owned range contributes one slot: its piece of the parameter buffer (model weights), of the
// gradient buffer, and an fp32 copy of the piece as main weights (for bf16/f16 parameters).
import { keep, noGrad, type Parameter, type Tensor } from '@tessera/core';
import type { DistributedDataParallel } from './ddp.ts';
import type { GradBuffer } from './grad-buffer.ts';
import type { ParamSlot } from './slots.ts';
import { rangeOf } from './views.ts';

/** Where a slot's piece comes from: elements [start, end) of the flattened parameter `name`. */
export interface ShardPiece {
  param: Parameter;
  name: string;
  start: number;
  end: number;
  shape: readonly number[];
  /** Which buffer and bucket it belongs to. */
  buffer: number;
  bucket: number;
}

export interface ShardSlots {
  slots: ParamSlot[];
  pieces: ShardPiece[];
  /** Per buffer and bucket: this rank's shard of the parameter buffer (the all-gather input). */
  paramShards: Tensor[][];
}

function needsMain(p: Parameter): boolean {
  return p.dtype === 'bf16' || p.dtype === 'f16';
}

/** Builds this rank's slots (owned views; dispose with disposeShardSlots). */
export function buildShardSlots(ddp: DistributedDataParallel): ShardSlots {
  const slots: ParamSlot[] = [];
  const pieces: ShardPiece[] = [];
  const paramShards = ddp.buffers.map((buffer: GradBuffer, bi) =>
    buffer.layout.buckets.map((bucket) => {
      const shard = ddp.shardRange(buffer, bucket.index);
      for (const r of bucket.params) {
        const a = Math.max(r.start, shard.start);
        const b = Math.min(r.end, shard.end);
        if (a >= b) continue;
        const name = ddp.nameOf(r.param) ?? `param ${pieces.length}`;
        const param = rangeOf(buffer.params as Tensor, a, b);
        const grad = rangeOf(buffer.grads, a, b);
        const main = needsMain(r.param) ? keep(noGrad(() => param.to('f32'))) : undefined;
        slots.push({ param, main, grad: () => grad, name: `${name}[${a - r.start}:${b - r.start}]` });
        pieces.push({ param: r.param, name, start: a - r.start, end: b - r.start, shape: [...r.param.shape], buffer: bi, bucket: bucket.index });
      }
      return rangeOf(buffer.params as Tensor, shard.start, shard.end);
    }),
  );
  return { slots, pieces, paramShards };
}

export function disposeShardSlots(s: ShardSlots): void {
  for (const slot of s.slots) {
    slot.param.dispose();
    slot.main?.dispose();
    (slot.grad() as Tensor).dispose();
  }
  for (const list of s.paramShards) for (const t of list) t.dispose();
}
