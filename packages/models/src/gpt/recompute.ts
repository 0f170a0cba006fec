// Activation recomputation settings, Megatron's --recompute-* arguments:
//   selective: recompute core attention only (the s² activations) in backward;
//   full + uniform: checkpoint the layers in chunks of recomputeNumLayers (only chunk inputs kept);
//   full + block: checkpoint each of the first recomputeNumLayers layers, keep the rest.

export interface RecomputeConfig {
  recomputeGranularity?: 'selective' | 'full';
  recomputeMethod?: 'uniform' | 'block';
  recomputeNumLayers?: number;
}

export type ResolvedRecompute =
  | { kind: 'none' }
  | { kind: 'selective' }
  | { kind: 'full'; method: 'uniform' | 'block'; numLayers: number };

export function resolveRecompute(r: RecomputeConfig | undefined, numLayers: number): ResolvedRecompute {
  const g = r?.recomputeGranularity;
  if (g === undefined) {
    if (r?.recomputeMethod !== undefined) throw new Error('recomputeMethod needs recomputeGranularity: \'full\'');
    return { kind: 'none' };
  }
  if (g === 'selective') {
    if (r?.recomputeMethod !== undefined) throw new Error("recomputeMethod applies to recomputeGranularity 'full' only; selective recomputation always recomputes core attention");
    return { kind: 'selective' };
  }
  if (g !== 'full') throw new Error(`recomputeGranularity must be 'selective' or 'full', got '${g}'`);
  const method = r?.recomputeMethod;
  if (method !== 'uniform' && method !== 'block') throw new Error(`full recomputation needs recomputeMethod 'uniform' or 'block', got ${method === undefined ? 'none' : `'${method}'`}`);
  const n = r?.recomputeNumLayers ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > numLayers) throw new Error(`recomputeNumLayers must be an integer in [1, ${numLayers}] (the number of layers), got ${n}`);
  return { kind: 'full', method, numLayers: n };
}
