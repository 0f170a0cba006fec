// A small pre-LN causal transformer decoder built from @tessera/core layers.
import { arange, type DeviceLike, type DType, Embedding, F, LayerNorm, Linear, Module, noGrad, scope, type Tensor } from '@tessera/core';

export interface TinyConfig {
  vocab: number;
  seqLen: number;
  hidden: number;
  heads: number;
  layers: number;
  dropout: number;
}

class Attention extends Module {
  readonly heads: number;
  qkv: Linear;
  proj: Linear;
  constructor(c: TinyConfig, opts: { device?: DeviceLike; dtype?: DType }) {
    super();
    this.heads = c.heads;
    this.qkv = new Linear(c.hidden, 3 * c.hidden, opts);
    this.proj = new Linear(c.hidden, c.hidden, opts);
  }
  forward(x: Tensor, mask: Tensor, dropout: number): Tensor {
    const [b, s, h] = x.shape as [number, number, number];
    const d = h / this.heads;
    const [q, k, v] = this.qkv.forward(x).split(h, -1) as [Tensor, Tensor, Tensor];
    const split = (t: Tensor) => t.reshape(b, s, this.heads, d).permute(0, 2, 1, 3);
    const scores = split(q).matmul(split(k).transpose(-2, -1)).mul(1 / Math.sqrt(d)).maskedFill(mask, -1e4);
    const probs = F.dropout(F.softmax(scores, -1), dropout, this.training);
    const mixed = probs.matmul(split(v)).permute(0, 2, 1, 3).reshape(b, s, h);
    return this.proj.forward(mixed);
  }
}

class Block extends Module {
  ln1: LayerNorm;
  attn: Attention;
  ln2: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  readonly dropout: number;
  constructor(c: TinyConfig, opts: { device?: DeviceLike; dtype?: DType }) {
    super();
    this.dropout = c.dropout;
    this.ln1 = new LayerNorm(c.hidden, opts);
    this.attn = new Attention(c, opts);
    this.ln2 = new LayerNorm(c.hidden, opts);
    this.fc1 = new Linear(c.hidden, 4 * c.hidden, opts);
    this.fc2 = new Linear(4 * c.hidden, c.hidden, opts);
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    const h = x.add(F.dropout(this.attn.forward(this.ln1.forward(x), mask, this.dropout), this.dropout, this.training));
    const m = this.fc2.forward(F.gelu(this.fc1.forward(this.ln2.forward(h)), 'tanh'));
    return h.add(F.dropout(m, this.dropout, this.training));
  }
}

export class TinyTransformer extends Module {
  tokens: Embedding;
  positions: Embedding;
  blocks: Block[];
  lnF: LayerNorm;
  head: Linear;
  /** True above the diagonal: the positions a token may not attend to. */
  readonly causalMask: Tensor;

  constructor(c: TinyConfig, opts: { device?: DeviceLike; dtype?: DType } = {}) {
    super();
    this.tokens = new Embedding(c.vocab, c.hidden, opts);
    this.positions = new Embedding(c.seqLen, c.hidden, opts);
    this.blocks = Array.from({ length: c.layers }, () => new Block(c, opts));
    this.lnF = new LayerNorm(c.hidden, opts);
    this.head = new Linear(c.hidden, c.vocab, opts);
    for (const m of [this.tokens, this.positions]) noGrad(() => m.weight.mul_(0.02));
    const mask = scope(() => {
      const i = arange(c.seqLen, undefined, 1, { device: opts.device });
      return i.reshape(-1, 1).lt(i.reshape(1, -1));
    });
    this.causalMask = this.registerBuffer('causalMask', mask, false);
  }

  /** Logits [batch, seq, vocab] for token ids [batch, seq]. */
  forward(ids: Tensor): Tensor {
    const s = ids.shape[1] as number;
    const pos = arange(s, undefined, 1, { device: ids.device });
    let x = this.tokens.forward(ids).add(this.positions.forward(pos));
    const mask = s === this.causalMask.shape[0] ? this.causalMask : this.causalMask.narrow(0, 0, s).narrow(1, 0, s);
    for (const block of this.blocks) x = block.forward(x, mask);
    return this.head.forward(this.lnF.forward(x));
  }
}
