// Attention over sequence-first tensors (Megatron's [s, b, heads, d] layout): softmax(scale · Q Kᵀ,
// masked) V. On CUDA with bf16 inputs and head size 64 or 128 it runs the fused FlashAttention-2
// kernels (no s × s scores in memory; the backward recomputes them); elsewhere it composes two
// batched matmuls around the fused scale + mask + softmax. Both give the same function.
import { defineFunction } from '../autograd/function.ts';
import * as k from '../kernels.ts';
import { nb } from '../native.ts';
import { sameShape, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { scaledMaskedSoftmax } from './nn.ts';
import { bmm } from './matmul.ts';
import { scope } from '../scope.ts';

export interface AttentionOptions {
  /** Multiplies Q Kᵀ (default 1 / sqrt(d)). */
  scale?: number;
  /** Query i sees keys j <= i + (sk - sq) (the usual lower triangle when sq = sk). Default false. */
  causal?: boolean;
  /**
   * 'auto' (default) takes the fused kernels when they apply; 'fused' insists on them (an error
   * says why they do not apply); 'composed' always composes matmuls and the fused softmax.
   */
  implementation?: 'auto' | 'fused' | 'composed';
}

const FUSED_HEAD_SIZES = [64, 128];

/** Why the fused kernels cannot take these inputs, or undefined when they can. */
export function fusedAttentionUnsupported(q: Tensor, key: Tensor, v: Tensor, causal: boolean): string | undefined {
  if (!q.device.startsWith('cuda')) return `it runs on CUDA only (the inputs are on ${q.device})`;
  if ([q, key, v].some((t) => t.dtype !== 'bf16')) return `it needs bf16 inputs (got ${q.dtype}, ${key.dtype}, ${v.dtype})`;
  const d = q.shape[3] as number;
  if (!FUSED_HEAD_SIZES.includes(d)) return `it needs a head size of ${FUSED_HEAD_SIZES.join(' or ')} (got ${d})`;
  if (key.shape[2] !== q.shape[2]) return 'it needs as many key/value heads as query heads (repeat them for grouped-query attention)';
  if ([q, key, v].some((t) => t.offset % 8 !== 0)) return 'it needs 16-byte aligned tensors';
  if (causal && (key.shape[0] as number) < (q.shape[0] as number)) return 'a causal mask needs at least as many keys as queries';
  return undefined;
}

/** Why the fused kernels cannot take a packed qkv [s, b, heads, 3d], or undefined when they can. */
export function fusedPackedAttentionUnsupported(qkv: Tensor): string | undefined {
  if (!qkv.device.startsWith('cuda')) return `it runs on CUDA only (the input is on ${qkv.device})`;
  if (qkv.dtype !== 'bf16') return `it needs a bf16 input (got ${qkv.dtype})`;
  const d = (qkv.shape[3] as number) / 3;
  if (!FUSED_HEAD_SIZES.includes(d)) return `it needs a head size of ${FUSED_HEAD_SIZES.join(' or ')} (got ${d})`;
  // q, k and v start at offsets 0, d, 2d of the buffer: with d a multiple of 8, the base decides.
  if (qkv.offset % 8 !== 0) return 'it needs a 16-byte aligned tensor';
  return undefined;
}

/** Element strides {batch, seq, head} of a contiguous [s, b, h, d] tensor read as [b, s, h, d]. */
function sbhdStrides(t: Tensor): [number, number, number] {
  const [, b, h, d] = t.shape as [number, number, number, number];
  return [h * d, b * h * d, d];
}

function dims(q: Tensor, key: Tensor): [number, number, number, number, number] {
  const [sq, b, h, d] = q.shape as [number, number, number, number];
  return [b, h, sq, key.shape[0] as number, d];
}

const FusedAttentionFn = defineFunction({
  name: 'attention',
  forward(ctx, q: Tensor, key: Tensor, v: Tensor, scale: number, causal: boolean) {
    const sizes = dims(q, key);
    const [b, h, sq] = sizes;
    const o = k.empty(q.shape, 'bf16', q.device);
    const lse = k.empty([b, h, sq], 'f32', q.device);
    const strides = [q, key, v, o].flatMap(sbhdStrides);
    nb.attention(q.handle, q.offset, key.handle, key.offset, v.handle, v.offset, o.handle, o.offset, lse.handle, lse.offset, sizes, strides, scale, causal);
    ctx.saveForBackward(q, key, v, o, lse);
    ctx.scale = scale;
    ctx.causal = causal;
    return o;
  },
  backward(ctx, gO) {
    const [q, key, v, o, lse] = ctx.savedTensors as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const dO = gO.dtype === 'bf16' ? gO : gO.to('bf16');
    const dq = k.empty(q.shape, 'bf16', q.device);
    const dk = k.empty(key.shape, 'bf16', q.device);
    const dv = k.empty(v.shape, 'bf16', q.device);
    const sizes = dims(q, key);
    const [b, h, sq, , d] = sizes;
    const workspace = k.empty([nb.attentionWorkspaceBytes(b, h, sq, d)], 'bool', q.device);
    const strides = [q, key, v, o, dO, dq, dk, dv].flatMap(sbhdStrides);
    nb.attentionBackward(
      q.handle, q.offset, key.handle, key.offset, v.handle, v.offset, o.handle, o.offset, lse.handle, lse.offset,
      dO.handle, dO.offset, dq.handle, dq.offset, dk.handle, dk.offset, dv.handle, dv.offset, workspace.handle, workspace.offset,
      sizes, strides, ctx.scale as number, ctx.causal as boolean,
    );
    workspace.dispose();
    if (dO !== gO) dO.dispose();
    return [dq, dk, dv, null, null];
  },
});

// Attention on the fused QKV projection's output without splitting it: q, k and v are strided
// views at element offsets 0, d and 2d of each head's [q | k | v] row, and the backward writes
// dq, dk and dv the same way into one dqkv, so neither direction copies.
const FusedPackedAttentionFn = defineFunction({
  name: 'attentionPacked',
  forward(ctx, qkv: Tensor, scale: number, causal: boolean) {
    const [s, b, h, d3] = qkv.shape as [number, number, number, number];
    const d = d3 / 3;
    const o = k.empty([s, b, h, d], 'bf16', qkv.device);
    const lse = k.empty([b, h, s], 'f32', qkv.device);
    const at = qkv.offset;
    const ps = packedStrides(qkv);
    const strides = [...ps, ...ps, ...ps, ...sbhdStrides(o)];
    nb.attention(qkv.handle, at, qkv.handle, at + d, qkv.handle, at + 2 * d, o.handle, o.offset, lse.handle, lse.offset, [b, h, s, s, d], strides, scale, causal);
    ctx.saveForBackward(qkv, o, lse);
    ctx.scale = scale;
    ctx.causal = causal;
    return o;
  },
  backward(ctx, gO) {
    const [qkv, o, lse] = ctx.savedTensors as [Tensor, Tensor, Tensor];
    const [s, b, h, d3] = qkv.shape as [number, number, number, number];
    const d = d3 / 3;
    const dO = gO.dtype === 'bf16' ? gO : gO.to('bf16');
    const dqkv = k.empty(qkv.shape, 'bf16', qkv.device);
    const workspace = k.empty([nb.attentionWorkspaceBytes(b, h, s, d)], 'bool', qkv.device);
    const ps = packedStrides(qkv);
    const strides = [...ps, ...ps, ...ps, ...sbhdStrides(o), ...sbhdStrides(dO), ...ps, ...ps, ...ps];
    const at = qkv.offset;
    const dAt = dqkv.offset;
    nb.attentionBackward(
      qkv.handle, at, qkv.handle, at + d, qkv.handle, at + 2 * d, o.handle, o.offset, lse.handle, lse.offset,
      dO.handle, dO.offset, dqkv.handle, dAt, dqkv.handle, dAt + d, dqkv.handle, dAt + 2 * d, workspace.handle, workspace.offset,
      [b, h, s, s, d], strides, ctx.scale as number, ctx.causal as boolean,
    );
    workspace.dispose();
    if (dO !== gO) dO.dispose();
    return [dqkv, null, null];
  },
});

/** Element strides {batch, seq, head} of q (or k, or v) inside a contiguous [s, b, h, 3d] qkv. */
function packedStrides(qkv: Tensor): [number, number, number] {
  const [, b, h, d3] = qkv.shape as [number, number, number, number];
  return [h * d3, b * h * d3, d3];
}

/** The same function from batched matmuls and the fused scale + mask + softmax (fp32 inside). */
function composedAttention(q: Tensor, key: Tensor, v: Tensor, scale: number, causal: boolean): Tensor {
  return scope(() => {
    const [sq, b, h, d] = q.shape as [number, number, number, number];
    const sk = key.shape[0] as number;
    const qb = q.permute(1, 2, 0, 3).reshape(b * h, sq, d);
    const kt = key.permute(1, 2, 3, 0).reshape(b * h, d, sk);
    const probs = scaledMaskedSoftmax(bmm(qb, kt).reshape(b, h, sq, sk), { scale, causal });
    const context = bmm(probs.reshape(b * h, sq, sk), v.permute(1, 2, 0, 3).reshape(b * h, sk, d));
    return context.reshape(b, h, sq, d).permute(2, 0, 1, 3);
  });
}

/**
 * q [sq, b, heads, d], k and v [sk, b, heads, d] -> [sq, b, heads, d]: softmax(scale · Q Kᵀ) V per
 * batch and head, optionally causal.
 */
export function attention(q: Tensor, key: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  for (const [name, t] of [['q', q], ['k', key], ['v', v]] as const) {
    t._check();
    if (t.rank !== 4) throw new Error(`attention: ${name} must be [s, b, heads, d], got ${shapeString(t.shape)}`);
  }
  const [, b, h, d] = q.shape as [number, number, number, number];
  if (key.shape[1] !== b || key.shape[2] !== h || key.shape[3] !== d || !sameShape(key.shape, v.shape)) {
    throw new Error(`attention: k and v must be [sk, ${b}, ${h}, ${d}] like q ${shapeString(q.shape)}, got ${shapeString(key.shape)} and ${shapeString(v.shape)}`);
  }
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const causal = o.causal ?? false;
  const impl = o.implementation ?? 'auto';
  const why = impl === 'composed' ? 'composed was asked for' : fusedAttentionUnsupported(q, key, v, causal);
  if (impl === 'fused' && why) throw new Error(`attention: the fused kernels cannot run: ${why}; use implementation 'auto' or 'composed'`);
  return why ? composedAttention(q, key, v, scale, causal) : FusedAttentionFn(q, key, v, scale, causal);
}

export interface PackedAttentionOptions extends AttentionOptions {
  /** Heads of a rank-3 qkv [s, b, heads * 3d] (a rank-4 qkv has them in its shape). */
  heads?: number;
}

/**
 * Self-attention on a fused QKV projection: qkv [s, b, heads, 3d] holds each head's [q | k | v]
 * (or [s, b, heads * 3d] with `heads` given) -> [s, b, heads, d], the same as attention() on the
 * three slices. The fused kernels read the slices in place and write one dqkv, so neither the
 * split nor the backward's concatenation copies; elsewhere it splits and calls attention().
 */
export function attentionPacked(qkv: Tensor, o: PackedAttentionOptions = {}): Tensor {
  qkv._check();
  if (qkv.rank === 3) {
    const [s, b, width] = qkv.shape as [number, number, number];
    if (o.heads === undefined || !Number.isInteger(o.heads) || o.heads <= 0 || width % (3 * o.heads) !== 0) {
      throw new Error(`attentionPacked: a rank-3 qkv ${shapeString(qkv.shape)} needs heads (a positive integer) with its last dimension a multiple of 3 · heads; got heads ${o.heads}`);
    }
    return attentionPacked(qkv.reshape(s, b, o.heads, width / o.heads), o);
  }
  if (qkv.rank !== 4 || (qkv.shape[3] as number) % 3 !== 0) throw new Error(`attentionPacked: qkv must be [s, b, heads, 3 * d], got ${shapeString(qkv.shape)}`);
  if (o.heads !== undefined && o.heads !== qkv.shape[2]) throw new Error(`attentionPacked: heads ${o.heads} does not match qkv ${shapeString(qkv.shape)}`);
  const d = (qkv.shape[3] as number) / 3;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const causal = o.causal ?? false;
  const impl = o.implementation ?? 'auto';
  const why = impl === 'composed' ? 'composed was asked for' : fusedPackedAttentionUnsupported(qkv);
  if (impl === 'fused' && why) throw new Error(`attentionPacked: the fused kernels cannot run: ${why}; use implementation 'auto' or 'composed'`);
  if (!why) return FusedPackedAttentionFn(qkv, scale, causal);
  // The split copies (q, k, v are strided inside qkv); its temporaries end with this scope.
  return scope(() => {
    const [q, key, v] = qkv.split([d, d, d], 3) as [Tensor, Tensor, Tensor];
    return attention(q, key, v, { scale, causal, implementation: impl });
  });
}
