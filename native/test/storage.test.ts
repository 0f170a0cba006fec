import { describe, expect, it } from 'vitest';
import { DTYPE_CODES, loadNative } from '../src/index.ts';

const { binding: nb } = loadNative();
const F32 = DTYPE_CODES.f32;

describe('storage', () => {
  it('writes, reads and copies bytes on the host', () => {
    const a = nb.alloc(-1, 16);
    const b = nb.alloc(-1, 16);
    nb.write(a, 0, new Float32Array([1, 2, 3, 4]));
    nb.copyBytes(b, 4, a, 0, 8);
    const out = new Float32Array(2);
    nb.read(b, 4, out);
    expect([...out]).toEqual([1, 2]);
    nb.free(a);
    nb.free(b);
  });

  it('tracks allocated and peak bytes', () => {
    const before = nb.memoryStats(-1);
    nb.resetPeakMemory(-1);
    const h = nb.alloc(-1, 1000);
    expect(nb.memoryStats(-1).allocated).toBe(before.allocated + 1000);
    nb.free(h);
    const after = nb.memoryStats(-1);
    expect(after.allocated).toBe(before.allocated);
    expect(after.peak).toBe(before.allocated + 1000);
  });

  it('refuses freed handles and out-of-bounds access', () => {
    const h = nb.alloc(-1, 8);
    expect(() => nb.fill(h, 1, 2, F32, 0)).toThrow(/reaches past its storage/);
    nb.free(h);
    expect(() => nb.free(h)).toThrow(/not live/);
    expect(() => nb.fill(h, 0, 1, F32, 0)).toThrow(/not live/);
  });

  it('names the variant and refuses CUDA devices in a CPU build', () => {
    const info = nb.buildInfo();
    expect(['cpu', 'cuda']).toContain(info.variant);
    if (!info.cuda) {
      expect(nb.cudaDeviceCount()).toBe(0);
      expect(() => nb.alloc(0, 4)).toThrow(/CPU build/);
    }
  });
});
