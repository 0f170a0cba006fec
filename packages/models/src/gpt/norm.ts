// The model's norms: LayerNorm or RMSNorm per the config. With sequence parallelism they see only
// this rank's part of the sequence, so their parameters are marked for the TP gradient all-reduce.
import { LayerNorm, RMSNorm } from '@tessera/core';
import type { BuildContext } from './build-context.ts';

export type Norm = LayerNorm | RMSNorm;

export function buildNorm(ctx: BuildContext): Norm {
  const { config, tp } = ctx;
  const opts = { eps: config.layernormEpsilon, ...ctx.factory };
  const norm = config.normalization === 'RMSNorm' ? new RMSNorm(config.hiddenSize, opts) : new LayerNorm(config.hiddenSize, opts);
  if (tp.sequenceParallel) for (const p of norm.parameters()) p.meta = { ...p.meta, sequenceParallel: true };
  return norm;
}
