// The global gradient norm across tensor, pipeline and (for sharded gradients) data parallelism,
// counting every parameter once. Convention (param.meta, set by the parallel layers):
//   - meta.tensorParallel === true: the parameter is sharded across TP ranks; every TP rank
//     counts its own shard.
//   - otherwise the parameter is replicated across TP ranks; only TP rank 0 counts it.
//   - meta.shared === true: a copy of a parameter that another pipeline stage counts (the last
//     stage's copy of tied word embeddings); never counted.
// Squared norms are summed locally in fp64 inside the kernel, then summed over each group.
import { multiTensorScale_, multiTensorSquaredNorm, type Device, noGrad, scope, type Tensor, zeros } from '@tessera/core';
import type { ProcessGroup } from '@tessera/collectives';

/**
 * The model-parallel groups a norm is reduced over; a ParallelState fits this shape (its data
 * group is not read: data-parallel replicas hold the same gradients after their all-reduce).
 */
export interface NormGroups {
  /** Tensor-parallel group: replicated parameters count on its rank 0 only. */
  tensor?: ProcessGroup;
  /** Pipeline-parallel group: every stage holds different parameters. */
  pipeline?: ProcessGroup;
}

/** Whether this rank counts `param` toward the global norm (see the convention above). */
export function countsTowardNorm(param: Tensor, tensorRank: number): boolean {
  const meta = (param as Tensor & { meta?: Record<string, unknown> }).meta ?? {};
  if (meta.shared === true) return false;
  return meta.tensorParallel === true || tensorRank === 0;
}

export interface GradStats {
  /** Sum of squares of the counted gradients over all ranks of the groups. */
  normSquared: number;
  /** False when any gradient on any rank (counted or not) holds inf or NaN. */
  finite: boolean;
}

async function sumOver(t: Tensor, groups: readonly (ProcessGroup | undefined)[]): Promise<void> {
  for (const g of groups) if (g && g.size > 1) await g.allReduce(t, 'sum').wait();
}

/**
 * Squared norm of `counted` and an inf/NaN check of `counted` and `others`, summed over the
 * tensor and pipeline groups, and over `shardGroup` when each of its ranks holds a different
 * shard of the gradients (the distributed optimizer's DP group). One all-reduce of two numbers per group.
 */
export async function gradStats(
  counted: readonly Tensor[], others: readonly Tensor[], groups: NormGroups, device: Device, shardGroup?: ProcessGroup,
): Promise<GradStats> {
  const sums = noGrad(() => zeros([2], { dtype: 'f32', device }));
  try {
    noGrad(() =>
      scope(() => {
        multiTensorSquaredNorm(counted, { out: sums.narrow(0, 0, 1) });
        multiTensorSquaredNorm(others, { out: sums.narrow(0, 1, 1) });
      }),
    );
    await sumOver(sums, [groups.tensor, groups.pipeline, shardGroup]);
    const [normSquared, rest] = sums.toArray() as [number, number];
    return { normSquared, finite: Number.isFinite(normSquared) && Number.isFinite(rest) };
  } finally {
    sums.dispose();
  }
}

/** Megatron's clip factor: maxNorm / (norm + 1e-6) when that is below 1, else 1 (0 or less disables). */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) return 1;
  const coef = maxNorm / (norm + 1e-6);
  return Math.min(coef, 1);
}

export interface ClipOptions {
  /** Model-parallel groups to reduce the norm over (a ParallelState works). */
  groups?: NormGroups;
  /** Where the gradients live when there are none on this rank (default: the first gradient's device, else cpu). */
  device?: Device;
}

/**
 * torch.nn.utils.clip_grad_norm_ across model parallelism: the global L2 norm of the parameters'
 * gradients (mainGrad, else .grad), counted once per the convention above; every gradient is
 * scaled in place when the norm exceeds maxNorm. Returns the norm before clipping (Infinity or NaN
 * when a gradient is not finite; nothing is scaled then).
 */
export async function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, options: ClipOptions = {}): Promise<number> {
  const groups = options.groups ?? {};
  const tensorRank = groups.tensor?.rank ?? 0;
  const counted: Tensor[] = [];
  const others: Tensor[] = [];
  const all: Tensor[] = [];
  let device: Device | undefined;
  for (const p of params) {
    const g = p.mainGrad ?? p.grad;
    if (!g) continue;
    device ??= g.device;
    all.push(g);
    (countsTowardNorm(p, tensorRank) ? counted : others).push(g);
  }
  const stats = await gradStats(counted, others, groups, device ?? options.device ?? 'cpu');
  const norm = stats.finite ? Math.sqrt(stats.normSquared) : Number.NaN;
  const coef = stats.finite ? clipFactor(norm, maxNorm) : 1;
  if (coef < 1) noGrad(() => multiTensorScale_(all, coef));
  return stats.finite ? norm : Number.isNaN(stats.normSquared) ? Number.NaN : Number.POSITIVE_INFINITY;
}
