// Initialization that gives the same full weights at every TP size (Megatron's
// _initialize_affine_weight_cpu): each rank fills the FULL master weight in fp32 from the same
// generator state, then keeps its slice. Interleaved (strided) partitions keep 1/tp of every part.
import { cat, type DeviceLike, type DType, empty, Generator, init, noGrad, scope, type Tensor } from '@tessera/core';
import type { TensorParallel } from './tensor-parallel.ts';
import { divide } from './utils.ts';

/** Fills a tensor of the FULL (unpartitioned) shape; layers slice their part after. */
export type InitMethod = (full: Tensor, generator: Generator | undefined) => void;

/** Normal(0, std): Megatron's init_method_normal. */
export function initNormal(std: number): InitMethod {
  return (t, g) => {
    init.normal_(t, 0, std, g);
  };
}

/** Normal(0, std / sqrt(2 numLayers)): Megatron's scaled_init_method_normal, for output projections. */
export function scaledInitNormal(std: number, numLayers: number): InitMethod {
  return initNormal(std / Math.sqrt(2 * numLayers));
}

/**
 * A generator of its own for the parameter called `name`, from a base seed: parameters drawn this
 * way do not depend on the order or size of the others (e.g. a vocabulary padded differently at
 * each TP size), so a model is the same at every TP size.
 */
export function generatorFor(seed: number, name: string): Generator {
  // FNV-1a of the name, mixed with the seed into a 53-bit seed.
  let h = 0xcbf29ce484222325n;
  for (const ch of new TextEncoder().encode(name)) h = ((h ^ BigInt(ch)) * 0x100000001b3n) & 0xffffffffffffffffn;
  const mixed = (BigInt(seed) * 0x9e3779b97f4a7c15n + h) & ((1n << 53n) - 1n);
  return new Generator(Number(mixed));
}

export interface PartitionSpec {
  /** The full weight's shape. */
  shape: readonly number[];
  /** Dimension split over the TP ranks. */
  dim: number;
  /** Parts interleaved along dim (e.g. 2 for SwiGLU's [gate; up]); each rank keeps 1/tp of each. */
  stride?: number;
  initMethod: InitMethod;
  generator?: Generator;
  dtype?: DType;
  device?: DeviceLike;
}

/** This rank's slice of a weight initialized in full (in fp32, then cast). */
export function initPartitioned(spec: PartitionSpec, tp: TensorParallel): Tensor {
  const stride = spec.stride ?? 1;
  const size = spec.shape[spec.dim] as number;
  const chunk = divide(size, tp.size * stride, `dimension ${spec.dim} of the weight [${spec.shape.join(', ')}] split into tensor-parallel size x stride = ${tp.size} x ${stride} parts: its size`);
  return noGrad(() =>
    scope(() => {
      const master = empty(spec.shape, { dtype: 'f32', device: spec.device });
      spec.initMethod(master, spec.generator);
      // Megatron's split(master, chunk)[rank::tp]: parts rank, rank + tp, rank + 2 tp, ...
      const mine = Array.from({ length: stride }, (_, k) => master.narrow(spec.dim, (k * tp.size + tp.rank) * chunk, chunk));
      const slice = mine.length === 1 ? (mine[0] as Tensor).clone() : cat(mine, spec.dim);
      return slice.to(spec.dtype ?? 'f32');
    }),
  );
}

/** A weight that is not partitioned, initialized like the partitioned ones (fp32, then cast). */
export function initFull(shape: readonly number[], initMethod: InitMethod, opts: { generator?: Generator; dtype?: DType; device?: DeviceLike } = {}): Tensor {
  return noGrad(() =>
    scope(() => {
      const master = empty(shape, { dtype: 'f32', device: opts.device });
      initMethod(master, opts.generator);
      return master.to(opts.dtype ?? 'f32');
    }),
  );
}
