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
