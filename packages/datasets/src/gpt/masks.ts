// Left-to-right masks and position ids for a GPT sample (`_get_ltor_masks_and_position_ids`).
// The attention mask is [s, s] bytes where 1 means MASKED (Megatron's `< 0.5` convention).

export interface LtorOptions {
  eod: number;
  resetPositionIds: boolean;
  resetAttentionMask: boolean;
  eodMaskLoss: boolean;
  createAttentionMask: boolean;
}

export interface LtorMasks {
  attentionMask: Uint8Array | undefined;
  lossMask: Float32Array;
  positionIds: Int32Array;
}

export function ltorMasks(tokens: Int32Array, o: LtorOptions): LtorMasks {
  const s = tokens.length;
  let attentionMask: Uint8Array | undefined;
  if (o.createAttentionMask) {
    attentionMask = new Uint8Array(s * s);
    for (let i = 0; i < s; i++) attentionMask.fill(1, i * s + i + 1, (i + 1) * s); // above the diagonal
  }
  const lossMask = new Float32Array(s).fill(1);
  if (o.eodMaskLoss) for (let i = 0; i < s; i++) if (tokens[i] === o.eod) lossMask[i] = 0;
  const positionIds = new Int32Array(s);
  for (let i = 0; i < s; i++) positionIds[i] = i;
  if (o.resetPositionIds || o.resetAttentionMask) {
    let prev = 0;
    for (let i = 0; i < s; i++) {
      if (tokens[i] !== o.eod) continue;
      if (o.resetAttentionMask && attentionMask) {
        // Rows after the EOD may not see columns up to and including it.
        for (let r = i + 1; r < s; r++) attentionMask.fill(1, r * s, r * s + i + 1);
      }
      if (o.resetPositionIds) {
        for (let r = i + 1; r < s; r++) positionIds[r]! -= i + 1 - prev;
        prev = i + 1;
      }
    }
  }
  return { attentionMask, lossMask, positionIds };
}
