// Weight initialisation, in place and outside autograd (torch.nn.init's names and formulas).
import { noGrad } from '../context.ts';
import * as inplace from '../ops/inplace.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';

/** fan_in and fan_out of a weight: [out, in, ...receptive field]. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.rank < 2) throw new Error(`fans: need at least 2 dimensions, got ${t.describe()}`);
  const receptive = t.shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: (t.shape[1] as number) * receptive, fanOut: (t.shape[0] as number) * receptive };
}

export function uniform_(t: Tensor, low = 0, high = 1, generator?: Generator): Tensor {
  return noGrad(() => inplace.uniform_(t, low, high, generator));
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return noGrad(() => inplace.normal_(t, mean, std, generator));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => inplace.fill_(t, value));
}

export const zeros_ = (t: Tensor) => constant_(t, 0);
export const ones_ = (t: Tensor) => constant_(t, 1);

export function xavierUniform_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, generator);
}

export function xavierNormal_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

/** Kaiming-uniform with negative slope `a` (PyTorch's Linear default uses a = sqrt(5)). */
export function kaimingUniform_(t: Tensor, a = 0, generator?: Generator): Tensor {
  const { fanIn } = fans(t);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = Math.sqrt(3) * (gain / Math.sqrt(fanIn));
  return uniform_(t, -bound, bound, generator);
}

export function kaimingNormal_(t: Tensor, a = 0, generator?: Generator): Tensor {
  const { fanIn } = fans(t);
  return normal_(t, 0, Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fanIn), generator);
}
