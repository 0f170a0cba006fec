// Attention masks in Megatron's convention: bool, true = masked (the score becomes -10000).
import { arange, type Device, scope, type Tensor } from '@tessera/core';

/** [1, 1, s, s]: true above the diagonal (a query may not see later keys). */
export function causalMask(s: number, device: Device): Tensor {
  return scope(() => {
    const i = arange(s, undefined, 1, { device });
    return i.reshape(s, 1).lt(i.reshape(1, s)).reshape(1, 1, s, s);
  });
}

/** [b, 1, 1, s] from a padding mask [b, s] that is 1/true on real tokens (Hugging Face's attention_mask). */
export function attentionMaskFromPadding(keep: Tensor): Tensor {
  if (keep.rank !== 2) throw new Error(`attentionMaskFromPadding: expected [b, s], got ${keep.describe()}`);
  return scope(() => keep.eq(0).reshape(keep.shape[0] as number, 1, 1, keep.shape[1] as number));
}

/** The causal mask, or-ed with a user mask broadcastable to [b, heads, s, s] (true = masked). */
export function combineMasks(s: number, device: Device, attentionMask?: Tensor): Tensor {
  const causal = causalMask(s, device);
  if (!attentionMask) return causal;
  if (attentionMask.dtype !== 'bool') throw new Error(`attentionMask must be bool (true = masked, Megatron's convention), got ${attentionMask.dtype}; for a Hugging Face 1/0 mask use attentionMaskFromPadding()`);
  if (attentionMask.rank !== 4 || attentionMask.shape[1] !== 1 || (attentionMask.shape[2] !== 1 && attentionMask.shape[2] !== s) || attentionMask.shape[3] !== s) {
    throw new Error(`attentionMask must be [b or 1, 1, s or 1, s] with s = ${s}, got ${attentionMask.describe()}`);
  }
  const out = causal.logicalOr(attentionMask);
  causal.dispose();
  return out;
}
