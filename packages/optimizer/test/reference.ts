// float64 transcriptions of PyTorch's single-tensor update formulas (torch.optim.Adam, AdamW, SGD),
// written from their documented algorithms, for checking the fp32 kernels element by element.

export interface AdamRef {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

export interface AdamRefState {
  w: number[];
  m: number[];
  v: number[];
  step: number;
}

export function adamRefInit(w: readonly number[]): AdamRefState {
  return { w: [...w], m: w.map(() => 0), v: w.map(() => 0), step: 0 };
}

/** One step in place: g are the gradients (already unscaled). */
export function adamRefStep(s: AdamRefState, g: readonly number[], o: AdamRef): void {
  s.step += 1;
  const bc1 = 1 - o.beta1 ** s.step;
  const bc2 = 1 - o.beta2 ** s.step;
  for (let i = 0; i < s.w.length; i++) {
    let w = s.w[i] as number;
    let gi = g[i] as number;
    if (o.decoupled) w *= 1 - o.lr * o.weightDecay;
    else gi += o.weightDecay * w;
    const m = o.beta1 * (s.m[i] as number) + (1 - o.beta1) * gi;
    const v = o.beta2 * (s.v[i] as number) + (1 - o.beta2) * gi * gi;
    const denom = Math.sqrt(v) / Math.sqrt(bc2) + o.eps;
    s.w[i] = w - (o.lr / bc1) * (m / denom);
    s.m[i] = m;
    s.v[i] = v;
  }
}

export interface SgdRef {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

export interface SgdRefState {
  w: number[];
  buf: number[] | undefined;
}

export function sgdRefStep(s: SgdRefState, g: readonly number[], o: SgdRef): void {
  const d = g.map((gi, i) => gi + o.weightDecay * (s.w[i] as number));
  let step = d;
  if (o.momentum !== 0) {
    s.buf = s.buf ? s.buf.map((b, i) => o.momentum * b + (1 - o.dampening) * (d[i] as number)) : [...d];
    const buf = s.buf;
    step = o.nesterov ? d.map((di, i) => di + o.momentum * (buf[i] as number)) : buf;
  }
  s.w = s.w.map((w, i) => w - o.lr * (step[i] as number));
}
