// Float64 references for the row kernels (reduce, softmax, norm, cross entropy) and the small
// plumbing their tests share: run a kernel on host data and read every output back.
import type { DTypeName, REDUCE_OPS } from '../src/index.ts';
import { code, decode, download, empty, encode, nb, upload } from './util.ts';

/** Rounds values to what `dtype` can hold, so references see exactly the kernel's inputs. */
export function quantize(dtype: DTypeName, values: number[]): number[] {
  return decode(dtype, encode(dtype, values));
}

export const FLOATS: DTypeName[] = ['f32', 'f64', 'bf16', 'f16'];

// ---- reduce -----------------------------------------------------------------------------------
export type ReduceOp = keyof typeof REDUCE_OPS;

/** out[o, i] and (max/min) the first arg index; NaN wins max/min like PyTorch. */
export function refReduce(op: ReduceOp, x: number[], outer: number, size: number, inner: number) {
  const out: number[] = [];
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => x[(o * size + j) * inner + i] as number;
      if (op === 'sum' || op === 'mean') {
        let s = 0;
        for (let j = 0; j < size; j++) s += at(j);
        out.push(op === 'mean' ? s / size : s);
        idx.push(0);
        continue;
      }
      let best = at(0);
      let where = 0;
      for (let j = 1; j < size; j++) {
        const v = at(j);
        if (Number.isNaN(best)) break;
        if (Number.isNaN(v) || (op === 'max' ? v > best : v < best)) {
          best = v;
          where = j;
        }
      }
      out.push(best);
      idx.push(where);
    }
  }
  return { out, idx };
}

// ---- softmax ----------------------------------------------------------------------------------
export function refSoftmax(x: number[], outer: number, size: number, inner: number, log: boolean): number[] {
  const y = new Array<number>(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const k = (j: number) => (o * size + j) * inner + i;
      let mx = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < size; j++) mx = Math.max(mx, x[k(j)] as number);
      let sum = 0;
      for (let j = 0; j < size; j++) sum += Math.exp((x[k(j)] as number) - mx);
      for (let j = 0; j < size; j++) {
        const v = (x[k(j)] as number) - mx;
        y[k(j)] = log ? v - Math.log(sum) : Math.exp(v) / sum;
      }
    }
  }
  return y;
}

/** gx from the forward output y: softmax y*(gy - sum(gy*y)); log-softmax gy - exp(y)*sum(gy). */
export function refSoftmaxBackward(y: number[], gy: number[], outer: number, size: number, inner: number, log: boolean): number[] {
  const gx = new Array<number>(y.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const k = (j: number) => (o * size + j) * inner + i;
      let dot = 0;
      for (let j = 0; j < size; j++) dot += log ? (gy[k(j)] as number) : (gy[k(j)] as number) * (y[k(j)] as number);
      for (let j = 0; j < size; j++) {
        const yv = y[k(j)] as number, g = gy[k(j)] as number;
        gx[k(j)] = log ? g - Math.exp(yv) * dot : yv * (g - dot);
      }
    }
  }
  return gx;
}

// ---- LayerNorm / RMSNorm ----------------------------------------------------------------------
export interface NormRef { y: number[]; mean: number[]; rstd: number[] }

export function refNorm(x: number[], w: number[] | null, b: number[] | null, rows: number, cols: number, eps: number, rms: boolean): NormRef {
  const y: number[] = [], mean: number[] = [], rstd: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    const mu = rms ? 0 : row.reduce((a, v) => a + v, 0) / cols;
    const msq = row.reduce((a, v) => a + (v - mu) ** 2, 0) / cols;
    const rs = 1 / Math.sqrt(msq + eps);
    mean.push(mu);
    rstd.push(rs);
    for (let c = 0; c < cols; c++) y.push(((row[c] as number) - mu) * rs * (w ? (w[c] as number) : 1) + (b ? (b[c] as number) : 0));
  }
  return { y, mean, rstd };
}

/** Uses `stats` (the forward's saved fp32 mean/rstd) when given, else recomputes them in f64. */
export function refNormBackward(gy: number[], x: number[], w: number[] | null, rows: number, cols: number, eps: number, rms: boolean,
  stats?: { mean: number[]; rstd: number[] }) {
  const { mean, rstd } = stats ?? refNorm(x, w, null, rows, cols, eps, rms);
  const gx: number[] = [];
  const gw = new Array<number>(cols).fill(0), gb = new Array<number>(cols).fill(0);
  for (let r = 0; r < rows; r++) {
    const mu = mean[r] as number, rs = rstd[r] as number;
    const xhat = (c: number) => ((x[r * cols + c] as number) - mu) * rs;
    const g = (c: number) => (gy[r * cols + c] as number) * (w ? (w[c] as number) : 1);
    let sg = 0, sgx = 0;
    for (let c = 0; c < cols; c++) {
      sg += g(c);
      sgx += g(c) * xhat(c);
    }
    for (let c = 0; c < cols; c++) {
      gx.push(rs * (g(c) - (rms ? 0 : sg / cols) - (xhat(c) * sgx) / cols));
      gw[c] = (gw[c] as number) + (gy[r * cols + c] as number) * xhat(c);
      gb[c] = (gb[c] as number) + (gy[r * cols + c] as number);
    }
  }
  return { gx, gw, gb };
}

// ---- cross entropy ----------------------------------------------------------------------------
export function refCrossEntropy(logits: number[], labels: number[], rows: number, vocab: number, ignoreIndex: number, s: number) {
  const loss: number[] = [], lse: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = logits.slice(r * vocab, (r + 1) * vocab);
    const mx = Math.max(...row);
    const l = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    lse.push(l);
    const label = labels[r] as number;
    if (label === ignoreIndex) {
      loss.push(0);
      continue;
    }
    const meanLogit = row.reduce((a, v) => a + v, 0) / vocab;
    loss.push(l - (1 - s) * (row[label] as number) - s * meanLogit);
  }
  return { loss, lse };
}

export function refCrossEntropyBackward(logits: number[], labels: number[], gloss: number[], rows: number, vocab: number, ignoreIndex: number, s: number): number[] {
  const { lse } = refCrossEntropy(logits, labels, rows, vocab, ignoreIndex, s);
  const g: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < vocab; v++) {
      if (labels[r] === ignoreIndex) {
        g.push(0);
        continue;
      }
      const p = Math.exp((logits[r * vocab + v] as number) - (lse[r] as number));
      g.push((gloss[r] as number) * (p - (v === labels[r] ? 1 - s : 0) - s / vocab));
    }
  }
  return g;
}

// ---- running kernels on host data -------------------------------------------------------------
/** Keeps the storages a test allocates and frees them together. */
export class Scope {
  private handles: number[] = [];
  readonly device: number;
  constructor(device: number) {
    this.device = device;
  }
  in(dtype: DTypeName, values: number[]): number {
    const h = upload(this.device, dtype, values);
    this.handles.push(h);
    return h;
  }
  out(dtype: DTypeName, n: number): number {
    const h = empty(this.device, dtype, Math.max(n, 1));
    this.handles.push(h);
    return h;
  }
  free(): void {
    for (const h of this.handles) nb.free(h);
    this.handles = [];
  }
}

export { code, download };

/** Central finite difference of a scalar function at every coordinate of x. */
export function numericGrad(f: (x: number[]) => number, x: number[], h = 1e-6): number[] {
  return x.map((_, k) => {
    const plus = x.slice(), minus = x.slice();
    plus[k] = (plus[k] as number) + h;
    minus[k] = (minus[k] as number) - h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

export const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
