import { describe, expect, it } from 'vitest';
import { arange, fromBytes, full, liveTensorCount, ones, rand, randint, randn, scope, tensor, zeros, manualSeed, Generator } from './index.ts';

describe('creating and reading tensors', () => {
  it('infers shapes from nested arrays and reads them back', () => {
    scope(() => {
      const t = tensor([[1, 2, 3], [4, 5, 6]]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe('f32');
      expect(t.device).toBe('cpu');
      expect(t.toNested()).toEqual([[1, 2, 3], [4, 5, 6]]);
      expect(t.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(tensor(7).item()).toBe(7);
      expect(tensor(7).shape).toEqual([]);
    });
  });

  it('stores every dtype, rounding 16-bit floats to nearest even', () => {
    scope(() => {
      expect(tensor([1.5, -2], { dtype: 'f64' }).toArray()).toEqual([1.5, -2]);
      expect(tensor([1, 2 ** 40], { dtype: 'i64' }).toArray()).toEqual([1, 2 ** 40]);
      expect(tensor([3, -4], { dtype: 'i32' }).toArray()).toEqual([3, -4]);
      expect(tensor([1, 0, 5], { dtype: 'bool' }).toArray()).toEqual([1, 0, 1]);
      // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
      expect(tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8], { dtype: 'bf16' }).toArray()).toEqual([1, 1 + 2 ** -6]);
      expect(tensor([65504, 1e-8, 1 / 3], { dtype: 'f16' }).toArray()).toEqual([65504, 0, 0.333251953125]);
      expect(tensor(new Float64Array([1, 2])).dtype).toBe('f64');
      expect(tensor(new Int32Array([1, 2]), { shape: [2, 1] }).shape).toEqual([2, 1]);
    });
  });

  it('builds constants, ranges and seeded random tensors', () => {
    scope(() => {
      expect(zeros([2]).toArray()).toEqual([0, 0]);
      expect(ones([2], { dtype: 'i64' }).toArray()).toEqual([1, 1]);
      expect(full([2], 3.5).toArray()).toEqual([3.5, 3.5]);
      expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
      expect(arange(5).dtype).toBe('i64');
      expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
      manualSeed(42);
      const a = randn([1000]).toArray();
      manualSeed(42);
      const b = randn([1000]).toArray();
      expect(a).toEqual(b);
      const m = a.reduce((p, v) => p + v, 0) / a.length;
      const v = a.reduce((p, x) => p + (x - m) ** 2, 0) / a.length;
      expect(Math.abs(m)).toBeLessThan(0.1);
      expect(Math.abs(v - 1)).toBeLessThan(0.15);
      const u = rand([1000], { low: 2, high: 3 }).toArray();
      expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
      expect(Math.max(...u)).toBeLessThan(3);
      const r = randint(-3, 3, [2000]).toArray();
      expect(new Set(r)).toEqual(new Set([-3, -2, -1, 0, 1, 2]));
      const g = new Generator(7);
      const first = randn([4], { generator: g }).toArray();
      g.setState({ seed: 7, offset: 0 });
      expect(randn([4], { generator: g }).toArray()).toEqual(first);
    });
  });

  it('round-trips raw bytes', () => {
    scope(() => {
      const t = fromBytes(new Uint16Array([0x3f80, 0x4000]), [2], 'bf16');
      expect(t.toArray()).toEqual([1, 2]);
      expect(() => fromBytes(new Uint8Array(3), [2], 'bf16')).toThrow(/3 bytes given/);
    });
  });

  it('refuses use after dispose and counts live tensors', () => {
    const before = liveTensorCount();
    const t = tensor([1, 2]);
    expect(liveTensorCount()).toBe(before + 1);
    t.dispose();
    t.dispose(); // idempotent
    expect(liveTensorCount()).toBe(before);
    expect(() => t.add(1)).toThrow(/was disposed/);
    expect(() => t.toArray()).toThrow(/was disposed/);
  });

  it('shares memory between views', () => {
    scope(() => {
      const t = tensor([1, 2, 3, 4]);
      const v = t.reshape(2, 2);
      t.dispose();
      expect(v.toNested()).toEqual([[1, 2], [3, 4]]);
    });
  });
});
