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

const LinearFn = defineFunction({
  name: 'linear',
  forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | undefined) {
    ctx.saveForBackward(x, weight);
    ctx.weightLeaf = weight; // the saved copy is an alias without mainGrad; fusion needs the parameter itself
    ctx.hasBias = bias !== undefined;
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
    let gw = null;
    if (ctx.needsInputGrad[1]) {
      const leaf = ctx.weightLeaf as Tensor;
      if (leaf.mainGrad && leaf.isLeaf) {
        // Gradient-accumulation fusion: the weight-gradient GEMM adds straight into the fp32 main grad.
        k.gemm(g2, x2, leaf.mainGrad, out, inF, rows, { transA: true, beta: 1 });
        runPostAccumulateHooks(leaf);
      } else {
        gw = k.gemm(g2, x2, k.empty([out, inF], weight.dtype, weight.device), out, inF, rows, { transA: true });
      }
    }
    const gb = ctx.needsInputGrad[2] ? k.reduce('sum', g2, 0, false, gy.dtype).values : null;
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
