// What happens between the gradients and the update, shared by the mixed-precision and the
// distributed optimizer (Megatron's order): measure the gradients (global norm, inf/NaN check),
// tell the loss scaler, skip the step on overflow, else derive the one factor the update applies
// to every gradient: 1/lossScale times the clip factor.
import type { ProcessGroup } from '@tessera/collectives';
import type { Device, Tensor } from '@tessera/core';
import type { GradScaler } from './grad-scaler.ts';
import { clipFactor, gradStats, type NormGroups } from './grad-norm.ts';

export interface StepResult {
  /** False when the step was skipped because a gradient held inf or NaN. */
  updated: boolean;
  /** Global L2 norm of the (unscaled) gradients before clipping; NaN on a skipped step. */
  gradNorm: number;
  /** The loss scale the gradients were computed with (1 without a scaler). */
  lossScale: number;
}

export interface PrecisionOptions {
  /** Clip the global gradient norm to this (default 1.0, Megatron's --clip-grad); 0 disables. */
  clipGrad?: number;
  /** Loss scaling for fp16 (e.g. new DynamicGradScaler()); none for bf16/fp32. */
  gradScaler?: GradScaler;
  /** Where skipped steps are reported (default console.warn). */
  log?: (message: string) => void;
}

export interface StepPlan {
  result: StepResult;
  /** The factor for every gradient in the update; only meaningful when result.updated. */
  gradScale: number;
}

export function checkPrecisionOptions(who: string, options: PrecisionOptions): void {
  const clip = options.clipGrad ?? 1;
  if (!(clip >= 0) || !Number.isFinite(clip)) throw new Error(`${who}: clipGrad must be a finite number >= 0 (0 disables clipping), got ${clip}`);
}

/**
 * Measures `counted` (toward the norm) and `others` (inf/NaN check only) over the groups (and
 * `shardGroup` for gradients sharded across data parallelism), updates
 * the scaler and decides the step. Every rank of the groups gets the same decision.
 */
export async function planStep(
  who: string, counted: readonly Tensor[], others: readonly Tensor[], device: Device, groups: NormGroups, options: PrecisionOptions,
  shardGroup?: ProcessGroup,
): Promise<StepPlan> {
  const scaler = options.gradScaler;
  const lossScale = scaler?.scale ?? 1;
  const stats = await gradStats(counted, others, groups, device, shardGroup);
  if (!stats.finite) {
    scaler?.update(true);
    const after = scaler ? `; the loss scale goes from ${lossScale} to ${scaler.scale}` : ' (no loss scaler: check the data and the learning rate)';
    (options.log ?? console.warn)(`${who}: found inf/NaN in the gradients, skipping this step${after}`);
    return { result: { updated: false, gradNorm: Number.NaN, lossScale }, gradScale: 0 };
  }
  scaler?.update(false);
  const gradNorm = Math.sqrt(stats.normSquared) / lossScale;
  return { result: { updated: true, gradNorm, lossScale }, gradScale: clipFactor(gradNorm, options.clipGrad ?? 1) / lossScale };
}
