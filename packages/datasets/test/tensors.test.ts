import { describe, expect, it } from 'vitest';
import { collate, toTensors } from '../src/index.ts';

describe('toTensors', () => {
  it('turns a collated batch into tensors with the right dtypes and shapes', () => {
    const batch = collate([
      { tokens: Int32Array.from([1, 2, 3]), loss_mask: Float32Array.from([1, 0, 1]), flags: Uint8Array.from([1, 0, 0]), idx: 4 },
      { tokens: Int32Array.from([4, 5, 6]), loss_mask: Float32Array.from([0, 1, 1]), flags: Uint8Array.from([0, 0, 1]), idx: 9 },
    ]);
    const t = toTensors(batch);
    expect(t.tokens?.dtype).toBe('i64');
    expect(t.tokens?.shape).toEqual([2, 3]);
    expect(t.tokens?.toNested()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(t.loss_mask?.dtype).toBe('f32');
    expect(t.flags?.dtype).toBe('bool');
    expect(t.idx?.toArray()).toEqual([4, 9]);
    const narrow = toTensors(batch, { intDtype: 'i32' });
    expect(narrow.tokens?.dtype).toBe('i32');
    for (const x of [...Object.values(t), ...Object.values(narrow)]) x.dispose();
  });
});
