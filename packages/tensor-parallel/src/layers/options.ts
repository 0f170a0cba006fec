// Options shared by the tensor-parallel linear layers, and the parameter factory they use.
import { type DeviceLike, type DType, type Generator, Parameter, type ParameterMeta, type Tensor, zeros } from '@tessera/core';
import { type InitMethod, initNormal } from '../init.ts';
import type { TensorParallel } from '../tensor-parallel.ts';

export interface LinearOptions {
  tp: TensorParallel;
  /** Default true. */
  bias?: boolean;
  /** Fills the FULL weight (default initNormal(0.02)); biases start at zero. */
  initMethod?: InitMethod;
  /** Interleaved partitions (2 for a SwiGLU fc1 holding [gate; up]): each rank keeps 1/tp of every part. */
  stride?: number;
  dtype?: DType;
  device?: DeviceLike;
  /** Seeded generator for the master weight; the same seed gives the same full weight at any TP size. */
  generator?: Generator;
}

export const DEFAULT_INIT = initNormal(0.02);

/** A Parameter holding `data` (which it takes over) with parallel metadata. */
export function parameterFrom(data: Tensor, meta: ParameterMeta): Parameter {
  const p = new Parameter(data, true, meta);
  data.dispose();
  return p;
}

export function zeroBias(size: number, opts: LinearOptions, meta: ParameterMeta): Parameter {
  return parameterFrom(zeros([size], { dtype: opts.dtype ?? 'f32', device: opts.device }), meta);
}

export function checkFeatures(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
}
