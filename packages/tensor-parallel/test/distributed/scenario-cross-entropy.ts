// Vocab-parallel cross entropy on this rank's vocabulary slice against the dense computation on
// the full logits: without smoothing it must equal core's cross entropy exactly (loss and the
// gradient slice); with smoothing it must follow Megatron's formula with this rank's local K and
// local mean of log-probabilities.
import { arange, F, scope, type Tensor, tensor } from '@tessera/core';
import { type TensorParallel, vocabParallelCrossEntropy } from '../../src/index.ts';
import { chunkOf, maxDiff, shared } from './common.ts';

const S = 5;
const B = 3;
const targets = (v: number, ignore = false) =>
  tensor(Array.from({ length: S * B }, (_, i) => (ignore && i % 4 === 1 ? -100 : (i * 7 + 3) % v)), { shape: [S, B], dtype: 'i64' });

function gradOf(loss: Tensor, x: Tensor, probe: Tensor): Tensor {
  loss.mul(probe).sum().backward();
  const g = x.grad as Tensor;
  x.grad = null;
  return g;
}

/** Megatron's smoothed loss and gradient for this rank's slice, from the full logits. */
function megatronSmoothed(full: Tensor, target: Tensor, alpha: number, tp: TensorParallel): { loss: Tensor; grad: Tensor } {
  const v = full.shape[2] as number;
  const k = v / tp.size;
  const s = (alpha * k) / (k - 1);
  const logp = full.logSoftmax(-1);
  const nll = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).neg();
  const localLogp = chunkOf(logp, 2, tp.rank, tp.size);
  const loss = nll.mul(1 - s).sub(localLogp.mean(-1).mul(s));
  const onehot = arange(v).eq(target.unsqueeze(-1)).float();
  const grad = chunkOf(logp.exp().sub(onehot.mul(1 - s)), 2, tp.rank, tp.size).sub(s / k);
  return { loss, grad };
}

export function crossEntropy(tp: TensorParallel): Record<string, number> {
  return scope(() => {
    const v = 6 * tp.size;
    const full = shared([S, B, v], 41).mul(3);
    const probe = shared([S, B], 42);
    const out: Record<string, number> = {};
    for (const ignore of [false, true]) {
      const t = targets(v, ignore);
      const x = chunkOf(full, 2, tp.rank, tp.size).clone().requiresGrad_();
      const loss = vocabParallelCrossEntropy(x, t, tp, ignore ? { ignoreIndex: -100 } : {});
      const dense = full.clone().requiresGrad_();
      const ref = F.crossEntropy(dense, t, { reduction: 'none', ignoreIndex: -100 });
      const tag = ignore ? 'ignoreIndex' : 'plain';
      out[`${tag}Loss`] = maxDiff(loss, ref);
      out[`${tag}Grad`] = maxDiff(gradOf(loss, x, probe), chunkOf(gradOf(ref, dense, probe), 2, tp.rank, tp.size));
    }
    const t = targets(v);
    const x = chunkOf(full, 2, tp.rank, tp.size).clone().requiresGrad_();
    const loss = vocabParallelCrossEntropy(x, t, tp, { labelSmoothing: 0.1 });
    const want = megatronSmoothed(full, t, 0.1, tp);
    out.smoothedLoss = maxDiff(loss, want.loss);
    out.smoothedGrad = maxDiff(gradOf(loss, x, probe), want.grad.mul(probe.unsqueeze(-1)));
    // The quirk is real: at TP > 1 the smoothed loss is not the TP = 1 value.
    out.smoothedVsGlobal = maxDiff(loss, F.crossEntropy(full, t, { reduction: 'none', labelSmoothing: (0.1 * v) / (v - 1) }));
    return out;
  });
}
