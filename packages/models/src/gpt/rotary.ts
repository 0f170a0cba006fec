// Rotary position embeddings (RoPE) as Megatron-Core and Hugging Face Llama apply them: the first
// rotaryDim channels of each head are rotated in two halves (x1, x2) -> (x1 cos - x2 sin,
// x2 cos + x1 sin); the rest pass through. The angle tables follow torch's fp32 arithmetic
// (inv_freq and position x inv_freq rounded to fp32), so they match the reference bit for bit.
import { cat, type DeviceLike, F, Module, scope, type Tensor, tensor } from '@tessera/core';

/** cos and sin of every position's angles, [maxPositions, rotaryDim] in fp32 (host math, torch's rounding). */
export function rotaryTables(maxPositions: number, rotaryDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = rotaryDim / 2;
  const invFreq = Array.from({ length: half }, (_, i) => Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / rotaryDim))));
  const cos = new Float32Array(maxPositions * rotaryDim);
  const sin = new Float32Array(maxPositions * rotaryDim);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * (invFreq[i] as number));
      // [freqs, freqs]: both halves of the rotated channels use the same angles.
      cos[p * rotaryDim + i] = cos[p * rotaryDim + half + i] = Math.cos(angle);
      sin[p * rotaryDim + i] = sin[p * rotaryDim + half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export interface RotaryAngles {
  /** [s, b or 1, 1, rotaryDim], broadcast over heads. */
  cos: Tensor;
  sin: Tensor;
}

export class RotaryEmbedding extends Module {
  readonly rotaryDim: number;
  readonly maxPositions: number;
  declare readonly cosTable: Tensor;
  declare readonly sinTable: Tensor;

  constructor(maxPositions: number, rotaryDim: number, base: number, device?: DeviceLike) {
    super();
    this.rotaryDim = rotaryDim;
    this.maxPositions = maxPositions;
    const { cos, sin } = rotaryTables(maxPositions, rotaryDim, base);
    // Derived from the config: not saved in state dicts.
    this.registerBuffer('cosTable', tensor(cos, { shape: [maxPositions, rotaryDim], device }), false);
    this.registerBuffer('sinTable', tensor(sin, { shape: [maxPositions, rotaryDim], device }), false);
  }

  /** Angles for positions 0..s-1, or for positionIds [b, s]. */
  angles(s: number, positionIds?: Tensor): RotaryAngles {
    if (s > this.maxPositions) throw new Error(`RoPE: the sequence has ${s} positions, maxPositionEmbeddings is ${this.maxPositions}`);
    const pick = (table: Tensor) =>
      positionIds
        ? F.embedding(positionIds, table).transpose(0, 1).unsqueeze(2) // [s, b, 1, dim]
        : table.narrow(0, 0, s).reshape(s, 1, 1, this.rotaryDim);
    return { cos: pick(this.cosTable), sin: pick(this.sinTable) };
  }
}

/** x [s, b, heads, d] with its first cos.shape[-1] channels rotated. */
export function applyRotary(x: Tensor, angles: RotaryAngles): Tensor {
  return scope(() => {
    const dim = angles.cos.shape[3] as number;
    const d = x.shape[3] as number;
    const rot = dim === d ? x : x.narrow(3, 0, dim);
    const [x1, x2] = rot.chunk(2, 3) as [Tensor, Tensor];
    const rotated = cat([x2.neg(), x1], 3);
    const out = rot.mul(angles.cos.to(x.dtype)).add(rotated.mul(angles.sin.to(x.dtype)));
    return dim === d ? out : cat([out, x.narrow(3, dim, d - dim)], 3);
  });
}
