// Test helpers shared by the CPU suites (vitest) and the GPU suites (node:test): closeness checks
// that name the worst element, finite-difference gradient checks, seeded inputs.
import { type DType, type Device, noGrad, scope, type Tensor, tensor } from '../src/index.ts';

export const TOL: Record<string, { rtol: number; atol: number }> = {
  f64: { rtol: 1e-9, atol: 1e-11 },
  f32: { rtol: 2e-5, atol: 2e-6 },
  f16: { rtol: 4e-3, atol: 2e-3 },
  bf16: { rtol: 3e-2, atol: 2e-2 },
};

/** Throws unless every |a - e| <= atol + rtol * |e| (NaN matches only NaN). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol: number; atol: number }, what = 'values'): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e)) continue;
    throw new Error(`${what} differ at [${i}]: got ${a}, expected ${e} (rtol ${tol.rtol}, atol ${tol.atol})`);
  }
}

/** Relative L2 error ||a - e|| / ||e||. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = (actual[i] as number) - (expected[i] as number);
    num += d * d;
    den += (expected[i] as number) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Deterministic values in [lo, hi) from a small LCG (independent of the native RNG). */
export function seeded(n: number, seed = 1, lo = -1, hi = 1): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 16777216) * (hi - lo);
  });
}

export function seededTensor(shape: number[], seed: number, opts: { dtype?: DType; device?: Device; lo?: number; hi?: number; requiresGrad?: boolean } = {}): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(seeded(n, seed, opts.lo ?? -1, opts.hi ?? 1), { shape, dtype: opts.dtype ?? 'f32', device: opts.device, requiresGrad: opts.requiresGrad });
}

/**
 * Checks the gradients of scalar-valued f at f64 inputs against central differences. Each input
 * is perturbed element by element, so keep inputs small.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], eps = 1e-6, tol = { rtol: 1e-5, atol: 1e-7 }): void {
  for (const x of inputs) if (x.requiresGrad && x.dtype !== 'f64') throw new Error('gradcheck: differentiable inputs must be f64');
  const analytic = scope(() => {
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
    f(...inputs).backward();
    return inputs.map((x) => (x.grad ? x.grad.toArray() : new Array<number>(x.numel).fill(0)));
  });
  inputs.forEach((x, which) => {
    if (!x.requiresGrad) return;
    const base = x.toArray();
    const numeric = base.map((v, i) => {
      const at = (delta: number) =>
        scope(() => {
          const values = [...base];
          values[i] = v + delta;
          const shifted = tensor(values, { shape: [...x.shape], dtype: 'f64', device: x.device });
          const args = inputs.map((y, j) => (j === which ? shifted : y));
          return noGrad(() => f(...args).item());
        });
      return (at(eps) - at(-eps)) / (2 * eps);
    });
    expectClose(analytic[which] as number[], numeric, tol, `gradient of input ${which}`);
  });
}

/** Largest |a - b| over two tensors of one shape (NaN counts as the worst). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`maxAbsDiff: shapes [${a.shape}] and [${b.shape}] differ`);
  const x = a.toArray();
  const y = b.toArray();
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] as number) - (y[i] as number));
    if (!(d <= worst)) worst = d;
  }
  return worst;
}
