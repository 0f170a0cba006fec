// Matrix products on cuBLASLt / the blocked CPU GEMM: matmul (with batching and broadcasting of
// a 2-D operand) and linear (x @ W^T + b, with its bias fused into the GEMM). Transposes are GEMM
// flags, never copies.
import { runPostAccumulateHooks } from '../autograd/engine.ts';
import { defineFunction } from '../autograd/function.ts';
import { isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import { sameShape, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { view } from './broadcast.ts';
import { reshape } from './shape.ts';
import { scope } from '../scope.ts';

// A: [M, K] (batch folded into M) times B: [K, N].
const MatmulFoldFn = defineFunction({
  name: 'matmul',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.saveForBackward(a, b);
    const [m, kk] = a.shape as [number, number];
    const n = b.shape[1] as number;
    return k.gemm(a, b, k.empty([m, n], a.dtype, a.device), m, n, kk);
  },
  backward(ctx, gc) {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    const [m, kk] = a.shape as [number, number];
    const n = b.shape[1] as number;
    const ga = ctx.needsInputGrad[0] ? k.gemm(gc, b, k.empty([m, kk], a.dtype, a.device), m, kk, n, { transB: true }) : null;
    const gb = ctx.needsInputGrad[1] ? k.gemm(a, gc, k.empty([kk, n], b.dtype, b.device), kk, n, m, { transA: true }) : null;
    return [ga, gb];
  },
});

// A: [batch or 1, m, k] times B: [batch or 1, k, n]; a batch of 1 is shared (stride 0).
const MatmulBatchedFn = defineFunction({
  name: 'bmm',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.saveForBackward(a, b);
    const [ba, m, kk] = a.shape as [number, number, number];
    const [bb, , n] = b.shape as [number, number, number];
    const batch = Math.max(ba, bb);
    const out = k.empty([batch, m, n], a.dtype, a.device);
    return k.gemm(a, b, out, m, n, kk, { batch, strideA: ba === 1 ? 0 : m * kk, strideB: bb === 1 ? 0 : kk * n });
  },
  backward(ctx, gc) {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    const [ba, m, kk] = a.shape as [number, number, number];
    const [bb, , n] = b.shape as [number, number, number];
    const batch = gc.shape[0] as number;
    const stride = (shared: boolean, size: number) => (shared ? 0 : size);
    let ga = null;
    let gb = null;
    if (ctx.needsInputGrad[0]) {
      const full = k.gemm(gc, b, k.empty([batch, m, kk], a.dtype, a.device), m, kk, n, { transB: true, batch, strideB: stride(bb === 1, kk * n) });
      ga = ba === batch ? full : k.reduce('sum', full, 0, true, a.dtype).values;
    }
    if (ctx.needsInputGrad[1]) {
      const full = k.gemm(a, gc, k.empty([batch, kk, n], b.dtype, b.device), kk, n, m, { transA: true, batch, strideA: stride(ba === 1, m * kk) });
      gb = bb === batch ? full : k.reduce('sum', full, 0, true, b.dtype).values;
    }
    return [ga, gb];
  },
});

function checkOperands(op: string, a: Tensor, b: Tensor): void {
  a._check();
  b._check();
  if (!isFloatingDtype(a.dtype)) throw new Error(`${op}: needs floating tensors, got ${a.dtype}`);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} and ${b.dtype}); cast one with .to()`);
  if (a.device !== b.device) throw new Error(`${op}: devices differ (${a.device} and ${b.device})`);
}

/** Matrix product with torch.matmul's rules for 1-D operands and batch dimensions. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkOperands('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) throw new Error('matmul: operands must have at least one dimension; use mul for scalars');
  if (a.rank === 1 || b.rank === 1) {
    return scope(() => {
      const r = matmul(a.rank === 1 ? reshape(a, [1, a.numel]) : a, b.rank === 1 ? reshape(b, [b.numel, 1]) : b);
      const shape = [...r.shape];
      if (b.rank === 1) shape.pop();
      if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
      return reshape(r, shape);
    });
  }
  const m = a.shape[a.rank - 2] as number;
  const kk = a.shape[a.rank - 1] as number;
  const n = b.shape[b.rank - 1] as number;
  if (b.shape[b.rank - 2] !== kk) {
    throw new Error(`matmul: inner dimensions differ: ${shapeString(a.shape)} @ ${shapeString(b.shape)} (${kk} vs ${b.shape[b.rank - 2]})`);
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  return scope(() => {
    if (b.rank === 2) return reshape(MatmulFoldFn(reshape(a, [a.numel / kk, kk]), b), [...batchA, m, n]);
    if (a.rank > 2 && b.rank > 2 && !sameShape(batchA, batchB)) {
      throw new Error(`matmul: batch dimensions ${shapeString(batchA)} and ${shapeString(batchB)} differ; expand one first`);
    }
    const nA = batchA.reduce((p, d) => p * d, 1);
    const nB = batchB.reduce((p, d) => p * d, 1);
    const r = MatmulBatchedFn(reshape(a, [nA, m, kk]), reshape(b, [nB, kk, n]));
    return reshape(r, [...(a.rank > 2 ? batchA : batchB), m, n]);
  });
}

/** Batched product of [batch, m, k] and [batch, k, n]. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  checkOperands('bmm', a, b);
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new Error(`bmm: expected [b, m, k] and [b, k, n], got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  }
  return MatmulBatchedFn(a, b);
}

/**
 * The weight gradient gy^T x of a [rows, out] x [rows, in] pair: into the parameter's fp32 main
 * grad when it has one (gradient-accumulation fusion; returns null), else as a new tensor. With
 * `biasGrad` the same GEMM also writes gy's column sums (the bias gradient) as it reads gy.
 */
function weightGradient(leaf: Tensor, weight: Tensor, gy: Tensor, x: Tensor, biasGrad: Tensor | undefined): Tensor | null {
  const [rows, out] = gy.shape as [number, number];
  const inF = x.shape[1] as number;
  const epilogue = biasGrad ? { epilogue: 'biasGradA' as const, biasGrad } : {};
  if (leaf.mainGrad && leaf.isLeaf) {
    k.gemm(gy, x, leaf.mainGrad, out, inF, rows, { transA: true, beta: 1, ...epilogue });
    runPostAccumulateHooks(leaf);
    return null;
  }
  return k.gemm(gy, x, k.empty([out, inF], weight.dtype, weight.device), out, inF, rows, { transA: true, ...epilogue });
}

/**
 * The wanted ones of the weight and bias gradients of y = x W^T + b, from gy [rows, out] and x
 * [rows, in]: the bias's rides in the weight-gradient GEMM when there is one, else it is gy's
 * column sum (in gy's dtype). The weight's is null when it went into the main grad.
 */
function weightAndBiasGradients(leaf: Tensor, weight: Tensor, gy: Tensor, x: Tensor, needW: boolean, needB: boolean): [Tensor | null, Tensor | null] {
  if (!needW) return [null, needB ? k.reduce('sum', gy, 0, false, gy.dtype).values : null];
  const gb = needB ? k.empty([gy.shape[1] as number], gy.dtype, gy.device) : undefined;
  return [weightGradient(leaf, weight, gy, x, gb), gb ?? null];
}

const LinearFn = defineFunction({
  name: 'linear',
  forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | undefined) {
    ctx.saveForBackward(x, weight);
    ctx.weightLeaf = weight; // the saved copy is an alias without mainGrad; fusion needs the parameter itself
    const [out, inF] = weight.shape as [number, number];
    const rows = x.numel / inF;
    const y = k.gemm(view(x, [rows, inF]), weight, k.empty([rows, out], x.dtype, x.device), rows, out, inF, { transB: true, bias });
    return view(y, [...x.shape.slice(0, -1), out]);
  },
  backward(ctx, gy) {
    const [x, weight] = ctx.savedTensors as [Tensor, Tensor];
    const [out, inF] = weight.shape as [number, number];
    const rows = x.numel / inF;
    const g2 = view(gy, [rows, out]);
    const x2 = view(x, [rows, inF]);
    const gx = ctx.needsInputGrad[0] ? view(k.gemm(g2, weight, k.empty([rows, inF], x.dtype, x.device), rows, inF, out), x.shape) : null;
    const [gw, gb] = weightAndBiasGradients(ctx.weightLeaf as Tensor, weight, g2, x2, ctx.needsInputGrad[1] as boolean, ctx.needsInputGrad[2] as boolean);
    return [gx, gw, gb];
  },
});

/** y = x @ weight^T + bias for x [..., in], weight [out, in], bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  checkOperands('linear', x, weight);
  if (weight.rank !== 2) throw new Error(`linear: the weight must be [out, in], got ${weight.describe()}`);
  const inF = weight.shape[1] as number;
  if (x.rank === 0 || x.shape[x.rank - 1] !== inF) {
    throw new Error(`linear: the input ${shapeString(x.shape)} must end in ${inF} (weight ${shapeString(weight.shape)})`);
  }
  if (bias) {
    bias._check();
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) throw new Error(`linear: the bias must be [${weight.shape[0]}], got ${bias.describe()}`);
    if (bias.dtype !== x.dtype) throw new Error(`linear: the bias is ${bias.dtype} but the input is ${x.dtype}`);
  }
  return LinearFn(x, weight, bias);
}

// fc2(gelu_tanh(fc1(x))) as one function: fc1's GEMM carries the GELU as an epilogue (keeping
// its input for backward) and the GEMM that carries the gradient back through fc2's weight carries
// the GELU backward with fc1's bias gradient. On CUDA the native layer composes those epilogues
// from the GEMM and pointwise kernels by default (measured faster than cuBLASLt's fused ones on the
// H200) or fuses them with TESSERA_GEMM_EPILOGUES=1. Numbers equal linear -> gelu('tanh') -> linear.
const LinearGeluLinearFn = defineFunction({
  name: 'linearGeluLinear',
  forward(ctx, x: Tensor, w1: Tensor, b1: Tensor | undefined, w2: Tensor, b2: Tensor | undefined) {
    const [ffn, inF] = w1.shape as [number, number];
    const out = w2.shape[0] as number;
    const rows = x.numel / inF;
    const pre = k.empty([rows, ffn], x.dtype, x.device);
    const act = k.gemm(view(x, [rows, inF]), w1, k.empty([rows, ffn], x.dtype, x.device), rows, ffn, inF, { transB: true, bias: b1, epilogue: 'geluAux', aux: pre });
    const y = k.gemm(act, w2, k.empty([rows, out], x.dtype, x.device), rows, out, ffn, { transB: true, bias: b2 });
    ctx.saveForBackward(x, w1, w2, pre, act);
    ctx.weightLeaves = [w1, w2]; // the saved copies are aliases without mainGrad
    return view(y, [...x.shape.slice(0, -1), out]);
  },
  backward(ctx, gy) {
    const [x, w1, w2, pre, act] = ctx.savedTensors as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const [leaf1, leaf2] = ctx.weightLeaves as [Tensor, Tensor];
    const [needX, needW1, needB1, needW2, needB2] = ctx.needsInputGrad as boolean[];
    const [ffn, inF] = w1.shape as [number, number];
    const out = w2.shape[0] as number;
    const rows = x.numel / inF;
    const g2 = view(gy, [rows, out]);
    const [gw2, gb2] = weightAndBiasGradients(leaf2, w2, g2, act, needW2 as boolean, needB2 as boolean);
    if (!needX && !needW1 && !needB1) return [null, null, null, gw2, gb2];
    const gb1 = needB1 ? k.empty([ffn], gy.dtype, gy.device) : undefined;
    const gPre = k.gemm(g2, w2, k.empty([rows, ffn], gy.dtype, gy.device), rows, ffn, out, { epilogue: 'dgelu', aux: pre, biasGrad: gb1 });
    const gw1 = needW1 ? weightGradient(leaf1, w1, gPre, view(x, [rows, inF]), undefined) : null;
    const gx = needX ? view(k.gemm(gPre, w1, k.empty([rows, inF], x.dtype, x.device), rows, inF, ffn), x.shape) : null;
    return [gx, gw1, gb1 ?? null, gw2, gb2];
  },
});

function checkBias(name: string, bias: Tensor | undefined, size: number, x: Tensor): void {
  if (!bias) return;
  bias._check();
  if (bias.rank !== 1 || bias.shape[0] !== size) throw new Error(`linearGeluLinear: ${name} must be [${size}], got ${bias.describe()}`);
  if (bias.dtype !== x.dtype) throw new Error(`linearGeluLinear: ${name} is ${bias.dtype} but the input is ${x.dtype}`);
  if (bias.device !== x.device) throw new Error(`linearGeluLinear: ${name} is on ${bias.device} but the input is on ${x.device}`);
}

/**
 * gelu_tanh(x @ w1^T + b1) @ w2^T + b2 for x [..., in], w1 [ffn, in], b1 [ffn], w2 [out, ffn],
 * b2 [out] (both biases optional): a GPT MLP with the activation as its GEMMs' epilogue work.
 */
export function linearGeluLinear(x: Tensor, w1: Tensor, b1: Tensor | undefined, w2: Tensor, b2?: Tensor): Tensor {
  checkOperands('linearGeluLinear', x, w1);
  checkOperands('linearGeluLinear', x, w2);
  if (w1.rank !== 2 || w2.rank !== 2) throw new Error(`linearGeluLinear: the weights must be 2-D, got ${w1.describe()} and ${w2.describe()}`);
  const [ffn, inF] = w1.shape as [number, number];
  if (x.rank === 0 || x.shape[x.rank - 1] !== inF) {
    throw new Error(`linearGeluLinear: the input ${shapeString(x.shape)} must end in ${inF} (w1 ${shapeString(w1.shape)})`);
  }
  if (w2.shape[1] !== ffn) throw new Error(`linearGeluLinear: w2 must be [out, ${ffn}] to follow w1 ${shapeString(w1.shape)}, got ${w2.describe()}`);
  checkBias('b1', b1, ffn, x);
  checkBias('b2', b2, w2.shape[0] as number, x);
  return LinearGeluLinearFn(x, w1, b1, w2, b2);
}
