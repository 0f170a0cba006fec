// The cpu backend's operations finish inside the call: collectives inside autograd functions
// (forward and backward are synchronous), and a batch of large messages of unequal sizes in both
// directions at once, which only finishes when sends and receives progress together. Odd ranks cut
// their messages into smaller frames than even ranks: frame sizes need not agree.
import { describe, expect, it } from 'vitest';
import { expectAllOk, runWorld } from '../../test/spawn.ts';

interface SyncReport {
  checked: string[];
  sizes: { forward: number; backward: number };
}

describe.each([2, 4])('world of %i ranks', (size) => {
  it('runs collectives inside autograd forward and backward, and large unequal exchanges both ways', async () => {
    const rankEnv = (rank: number) => ({ TESSERA_CPU_SEGMENT_BYTES: String(rank % 2 ? 65_536 : 1 << 20) });
    const outcomes = await runWorld(size, 'sync', { timeoutMs: 60_000, rankEnv });
    expectAllOk(outcomes);
    for (const o of outcomes) {
      const r = o.report as SyncReport;
      expect(r.checked).toEqual(['reduce-from', 'copy-to', 'gather']);
      const prev = (o.rank - 1 + size) % size;
      const next = (o.rank + 1) % size;
      expect(r.sizes).toEqual({ forward: 3_000_000 + 1013 * prev, backward: 1_700_003 + 7 * next });
    }
  }, 60_000);
});
