// Helpers for the GPU parity suites (node:test, no npm packages): run one kernel call on the CPU
// and on cuda:0 with the same inputs and poisoned outputs, and compare what comes back.
import assert from 'node:assert';
import type { DTypeName } from '../src/index.ts';
import { assertClose, CPU, download, empty, nb, TOL, upload } from './util.ts';

export const GPU = 0;
export const DEVICES = [CPU, GPU] as const;

export interface Output {
  handle: number;
  dtype: DTypeName;
  n: number;
}

/**
 * Runs `call` on each device. `setup(device)` uploads inputs and allocates outputs (poisoned by
 * `empty`), then runs the kernel; its outputs are read back (a read synchronizes and raises device
 * errors) and every storage it made is freed.
 */
export function onBoth(setup: (device: number, up: Uploader) => Output[]): { cpu: number[][]; gpu: number[][] } {
  const results = DEVICES.map((device) => {
    const up = new Uploader(device);
    try {
      return setup(device, up).map((o) => download(o.handle, o.dtype, o.n));
    } finally {
      up.freeAll();
    }
  });
  return { cpu: results[0] as number[][], gpu: results[1] as number[][] };
}

/** Allocates on one device and remembers what to free. */
export class Uploader {
  readonly device: number;
  private handles: number[] = [];
  constructor(device: number) {
    this.device = device;
  }
  values(dtype: DTypeName, values: ArrayLike<number>): number {
    return this.track(upload(this.device, dtype, values));
  }
  empty(dtype: DTypeName, n: number): number {
    return this.track(empty(this.device, dtype, n));
  }
  out(dtype: DTypeName, n: number): Output {
    return { handle: this.empty(dtype, n), dtype, n };
  }
  freeAll(): void {
    for (const h of this.handles) nb.free(h);
    this.handles = [];
  }
  private track(h: number): number {
    this.handles.push(h);
    return h;
  }
}

/** Element-for-element equality (NaN equals NaN; -0 equals 0). */
export function assertSame(actual: number[], expected: number[], what: string): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number, e = expected[i] as number;
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    assert.fail(`${what}: differs at [${i}]: cuda ${a} vs cpu ${e}`);
  }
}

/** GPU outputs equal to the CPU's (exact) or within the dtype's tolerance (scaled by `slack`). */
export function assertParity(res: { cpu: number[][]; gpu: number[][] }, dtypes: DTypeName[], exact: boolean, what: string, slack = 1): void {
  res.cpu.forEach((cpu, k) => {
    const gpu = res.gpu[k] as number[];
    const dtype = dtypes[k] ?? (dtypes[0] as DTypeName);
    if (exact || dtype === 'bool' || dtype === 'i32' || dtype === 'i64') assertSame(gpu, cpu, `${what} (output ${k})`);
    else assertClose(gpu, cpu, TOL[dtype].rtol * slack, TOL[dtype].atol * slack, `${what} (output ${k})`);
  });
}

/** How many elements differ at all (for reporting near-parity). */
export function countDifferent(a: number[], b: number[]): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!(a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) n++;
  return n;
}
