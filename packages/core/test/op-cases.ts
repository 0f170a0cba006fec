// One table of differentiable op cases, used twice: gradients against finite differences on the
// CPU (ops.test.ts), and CUDA against CPU for outputs and gradients (ops.gpu.test.ts).
import {
  F, Generator, type Tensor, abs, add, bmm, cat, clamp, cos, div, exp, expand, flatten, gather, gelu, indexSelect, log, matmul,
  maskedFill, maximum, mean, minimum, mul, narrow, neg, permute, pow, reciprocal, relu, reshape, rsqrt, scatterAdd, sigmoid, silu,
  sin, split, sqrt, square, squeeze, stack, sub, sum, tanh, tensor, transpose, unsqueeze, where,
} from '../src/index.ts';
import { max, min } from '../src/ops/reduction.ts';

export interface InputSpec {
  shape: number[];
  /** Value range of a floating input (default [-1, 1)). */
  lo?: number;
  hi?: number;
  /** An integer input (indices, labels) with values in [low, high); never differentiated. */
  int?: [number, number];
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Run for 16-bit floats on the GPU too (default true). */
  halfPrecision?: boolean;
  /** Finite-difference settings when the op computes in fp32 even for f64 inputs (losses). */
  gradcheck?: { eps: number; rtol: number; atol: number };
}

// Cross entropy accumulates in fp32 whatever the input dtype (as Megatron does), so its finite
// differences need a larger step and a tolerance at fp32 resolution.
const FP32_LOSS = { eps: 1e-3, rtol: 2e-3, atol: 2e-4 };

const pos = (shape: number[]): InputSpec => ({ shape, lo: 0.5, hi: 2 });
const any = (shape: number[]): InputSpec => ({ shape });
const ints = (shape: number[], low: number, high: number): InputSpec => ({ shape, int: [low, high] });

export const OP_CASES: OpCase[] = [
  { name: 'neg', inputs: [any([3, 4])], fn: (x) => neg(x) },
  { name: 'exp', inputs: [any([3, 4])], fn: (x) => exp(x) },
  { name: 'log', inputs: [pos([3, 4])], fn: (x) => log(x) },
  { name: 'sqrt', inputs: [pos([3, 4])], fn: (x) => sqrt(x) },
  { name: 'rsqrt', inputs: [pos([3, 4])], fn: (x) => rsqrt(x) },
  { name: 'tanh', inputs: [any([3, 4])], fn: (x) => tanh(x) },
  { name: 'sigmoid', inputs: [any([3, 4])], fn: (x) => sigmoid(x) },
  { name: 'relu', inputs: [any([3, 4])], fn: (x) => relu(x) },
  { name: 'silu', inputs: [any([3, 4])], fn: (x) => silu(x) },
  { name: 'gelu (erf)', inputs: [any([3, 4])], fn: (x) => gelu(x) },
  { name: 'gelu (tanh)', inputs: [any([3, 4])], fn: (x) => gelu(x, 'tanh') },
  { name: 'abs', inputs: [any([3, 4])], fn: (x) => abs(x) },
  { name: 'square', inputs: [any([3, 4])], fn: (x) => square(x) },
  { name: 'reciprocal', inputs: [pos([3, 4])], fn: (x) => reciprocal(x) },
  { name: 'sin', inputs: [any([3, 4])], fn: (x) => sin(x) },
  { name: 'cos', inputs: [any([3, 4])], fn: (x) => cos(x) },
  { name: 'clamp', inputs: [any([3, 4])], fn: (x) => clamp(x, -0.5, 0.5) },
  { name: 'pow scalar', inputs: [pos([3, 4])], fn: (x) => pow(x, 2.5) },
  { name: 'add broadcast', inputs: [any([3, 1, 4]), any([2, 4])], fn: (a, b) => add(a, b) },
  { name: 'add alpha', inputs: [any([2, 3]), any([2, 3])], fn: (a, b) => add(a, b, 0.5) },
  { name: 'sub broadcast', inputs: [any([2, 3]), any([3])], fn: (a, b) => sub(a, b) },
  { name: 'mul broadcast', inputs: [any([4, 1]), any([1, 5])], fn: (a, b) => mul(a, b) },
  { name: 'div', inputs: [any([2, 3]), pos([2, 3])], fn: (a, b) => div(a, b) },
  { name: 'pow tensor', inputs: [pos([2, 3]), any([2, 3])], fn: (a, b) => pow(a, b) },
  { name: 'maximum', inputs: [any([2, 3]), any([2, 3])], fn: (a, b) => maximum(a, b) },
  { name: 'minimum', inputs: [any([2, 3]), any([3])], fn: (a, b) => minimum(a, b) },
  { name: 'scalar arithmetic', inputs: [any([2, 3])], fn: (x) => div(sub(3, mul(add(x, 2), 1.5)), 4) },
  { name: 'where', inputs: [any([3, 4]), any([3, 4])], fn: (a, b) => where(a.gt(0), a, b) },
  { name: 'maskedFill', inputs: [any([3, 4])], fn: (x) => maskedFill(x, x.lt(-0.2), 7) },
  { name: 'sum all', inputs: [any([3, 4])], fn: (x) => sum(x) },
  { name: 'sum dim', inputs: [any([3, 4, 2])], fn: (x) => sum(x, 1) },
  { name: 'sum dims keepdim', inputs: [any([3, 4, 2])], fn: (x) => sum(x, [0, 2], { keepdim: true }) },
  { name: 'mean', inputs: [any([3, 4])], fn: (x) => mean(x, -1) },
  { name: 'max dim', inputs: [any([3, 5])], fn: (x) => max(x, 1) },
  { name: 'min dim 0', inputs: [any([3, 5])], fn: (x) => min(x, 0, true) },
  { name: 'max all', inputs: [any([3, 5])], fn: (x) => max(x) },
  { name: 'reshape', inputs: [any([2, 6])], fn: (x) => mul(reshape(x, [3, -1]), reshape(x, [3, 4])) },
  { name: 'permute', inputs: [any([2, 3, 4])], fn: (x) => permute(x, [2, 0, 1]) },
  { name: 'transpose', inputs: [any([2, 3, 4])], fn: (x) => transpose(x, 0, 2) },
  { name: 'narrow inner', inputs: [any([3, 6])], fn: (x) => narrow(x, 1, 2, 3) },
  { name: 'narrow leading', inputs: [any([5, 2])], fn: (x) => narrow(x, 0, 1, 3) },
  { name: 'split', inputs: [any([3, 5])], fn: (x) => { const [a, b] = split(x, [2, 3], 1) as [Tensor, Tensor]; return sum(a, 1).add(sum(b, 1)); } },
  { name: 'cat', inputs: [any([2, 3]), any([2, 2])], fn: (a, b) => cat([a, b], 1) },
  { name: 'stack', inputs: [any([2, 3]), any([2, 3])], fn: (a, b) => stack([a, b], 1) },
  { name: 'expand', inputs: [any([3, 1])], fn: (x) => expand(x, [2, 3, 4]) },
  { name: 'flatten/unsqueeze/squeeze', inputs: [any([2, 3, 2])], fn: (x) => squeeze(unsqueeze(flatten(x, 1), 0), 0) },
  { name: 'indexSelect', inputs: [any([3, 5]), ints([6], 0, 5)], fn: (x, i) => indexSelect(x, 1, i) },
  { name: 'gather', inputs: [any([3, 5]), ints([3, 4], 0, 5)], fn: (x, i) => gather(x, 1, i) },
  { name: 'scatterAdd', inputs: [any([3, 5]), ints([3, 4], 0, 5), any([3, 4])], fn: (x, i, s) => scatterAdd(x, 1, i, s) },
  { name: 'embedding', inputs: [ints([2, 3], 0, 7), any([7, 4])], fn: (i, w) => F.embedding(i, w) },
  { name: 'softmax', inputs: [any([3, 7])], fn: (x) => F.softmax(x, -1) },
  { name: 'softmax dim 0', inputs: [any([4, 3])], fn: (x) => F.softmax(x, 0) },
  { name: 'logSoftmax', inputs: [any([3, 7])], fn: (x) => F.logSoftmax(x, 1) },
  { name: 'scaledMaskedSoftmax causal', inputs: [any([2, 3, 5, 5])], fn: (x) => F.scaledMaskedSoftmax(x, { scale: 0.7, causal: true }) },
  { name: 'scaledMaskedSoftmax causal sq < sk', inputs: [any([1, 2, 3, 6])], fn: (x) => F.scaledMaskedSoftmax(x, { scale: 1.3, causal: true }) },
  {
    name: 'scaledMaskedSoftmax padding mask',
    inputs: [any([2, 2, 3, 5])],
    fn: (x) => F.scaledMaskedSoftmax(x, { scale: 0.5, mask: boolMask([0, 0, 0, 1, 1, 0, 1, 0, 0, 0], [2, 1, 1, 5], x) }),
  },
  {
    name: 'scaledMaskedSoftmax causal + mask, 16 columns',
    inputs: [any([2, 2, 16, 16])],
    fn: (x) => F.scaledMaskedSoftmax(x, { scale: 0.25, causal: true, mask: boolMask(Array.from({ length: 256 }, (_, i) => (i * 7) % 5 === 0 ? 1 : 0), [1, 1, 16, 16], x) }),
  },
  { name: 'scaledMaskedSoftmax long row', inputs: [any([1, 1, 2, 2056])], fn: (x) => F.scaledMaskedSoftmax(x, { scale: 2, causal: true }) },
  { name: 'layerNorm', inputs: [any([4, 6]), any([6]), any([6])], fn: (x, w, b) => F.layerNorm(x, 6, w, b) },
  { name: 'layerNorm plain', inputs: [any([2, 3, 5])], fn: (x) => F.layerNorm(x, [3, 5]) },
  { name: 'rmsNorm', inputs: [any([4, 6]), any([6])], fn: (x, w) => F.rmsNorm(x, w) },
  { name: 'crossEntropy', inputs: [any([5, 7]), ints([5], 0, 7)], fn: (x, t) => F.crossEntropy(x, t), gradcheck: FP32_LOSS },
  { name: 'crossEntropy ignore+smoothing', inputs: [any([2, 3, 6]), ints([2, 3], -1, 6)], fn: (x, t) => F.crossEntropy(x, t, { ignoreIndex: -1, labelSmoothing: 0.1 }), gradcheck: FP32_LOSS },
  { name: 'crossEntropy none', inputs: [any([4, 5]), ints([4], 0, 5)], fn: (x, t) => F.crossEntropy(x, t, { reduction: 'none' }), gradcheck: FP32_LOSS },
  { name: 'mseLoss', inputs: [any([3, 4]), any([3, 4])], fn: (a, b) => F.mseLoss(a, b) },
  { name: 'dropout', inputs: [any([4, 8])], fn: (x) => F.dropout(x, 0.3, true, new Generator(5)) },
  { name: 'linear', inputs: [any([2, 3, 5]), any([4, 5]), any([4])], fn: (x, w, b) => F.linear(x, w, b) },
  { name: 'linear no bias', inputs: [any([3, 5]), any([4, 5])], fn: (x, w) => F.linear(x, w) },
  { name: 'matmul 2d', inputs: [any([3, 4]), any([4, 5])], fn: (a, b) => matmul(a, b) },
  { name: 'matmul batched', inputs: [any([2, 3, 4]), any([2, 4, 5])], fn: (a, b) => matmul(a, b) },
  { name: 'matmul folded', inputs: [any([2, 3, 4]), any([4, 5])], fn: (a, b) => matmul(a, b) },
  { name: 'matmul shared left', inputs: [any([3, 4]), any([2, 4, 5])], fn: (a, b) => matmul(a, b) },
  { name: 'matmul vector', inputs: [any([4]), any([2, 4, 3])], fn: (a, b) => matmul(a, b) },
  { name: 'bmm', inputs: [any([2, 3, 4]), any([2, 4, 2])], fn: (a, b) => bmm(a, b) },
];

/** A bool mask (true = masked) on x's device. */
function boolMask(values: number[], shape: number[], x: Tensor): Tensor {
  return tensor(values, { shape, dtype: 'bool', device: x.device });
}
