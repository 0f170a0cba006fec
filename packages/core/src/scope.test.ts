import { describe, expect, it } from 'vitest';
import { dispose, keep, liveTensorCount, memoryStats, scope, tensor, type Tensor } from './index.ts';

describe('scopes', () => {
  it('frees everything created inside except what is returned', () => {
    const before = liveTensorCount();
    const result = scope(() => {
      const a = tensor([1, 2, 3]);
      const b = a.mul(2);
      return { b, extra: [a.add(1)] };
    });
    expect(liveTensorCount()).toBe(before + 2);
    expect(result.b.toArray()).toEqual([2, 4, 6]);
    dispose(result);
    expect(liveTensorCount()).toBe(before);
  });

  it('moves returned tensors to the enclosing scope', () => {
    const before = liveTensorCount();
    scope(() => {
      const inner = scope(() => tensor([1]).add(1));
      expect(inner.item()).toBe(2);
    });
    expect(liveTensorCount()).toBe(before);
  });

  it('keeps tensors passed to keep()', () => {
    const before = liveTensorCount();
    let kept: Tensor | undefined;
    scope(() => {
      kept = keep(tensor([5]));
      tensor([6]);
    });
    expect(liveTensorCount()).toBe(before + 1);
    expect(kept?.item()).toBe(5);
    kept?.dispose();
  });

  it('works across await', async () => {
    const before = liveTensorCount();
    const out = await scope(async () => {
      const a = tensor([1, 2]);
      await new Promise((r) => setTimeout(r, 5));
      const b = a.add(1); // created after the await: still this scope's
      await Promise.resolve();
      return b.mul(2);
    });
    expect(out.toArray()).toEqual([4, 6]);
    expect(liveTensorCount()).toBe(before + 1);
    out.dispose();
  });

  it('keeps interleaved async scopes apart', async () => {
    const before = liveTensorCount();
    const run = (v: number) =>
      scope(async () => {
        const t = tensor([v]);
        await new Promise((r) => setTimeout(r, v));
        return t.add(v).item();
      });
    expect(await Promise.all([run(3), run(1), run(2)])).toEqual([6, 2, 4]);
    expect(liveTensorCount()).toBe(before);
  });

  it('cleans up when the function throws', () => {
    const before = liveTensorCount();
    expect(() =>
      scope(() => {
        tensor([1]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(liveTensorCount()).toBe(before);
  });

  it('supports `using` declarations', () => {
    const before = memoryStats().allocated;
    {
      using t = tensor([1, 2, 3, 4]);
      using s = t.sum();
      expect(memoryStats().allocated).toBe(before + 20);
      expect(s.item()).toBe(10);
    }
    expect(memoryStats().allocated).toBe(before);
  });
});
