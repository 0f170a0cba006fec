// The cpu backend's native protocol across real processes: how ranks that disagree are told what
// differs, how a peer that leaves on purpose is named, that a failure in one group leaves the
// connections it shares with others usable, and how a send nobody takes times out.
import { describe, expect, it } from 'vitest';
import { runWorld } from '../../test/spawn.ts';

interface Report {
  ok?: boolean;
  value?: unknown;
  code?: string;
  message?: string;
  ms?: number;
}

async function run(size: number, name: string, timeoutMs = 5000): Promise<Report[]> {
  return (await runWorld(size, 'protocol', { args: [name, String(timeoutMs)] })).map((o) => o.report as Report);
}

describe('mismatches the native protocol names', () => {
  it('two groups called in different orders: both groups are named', async () => {
    const r = await run(3, 'group-order');
    for (const e of r) {
      // Rank 0 waits in the pair for rank 1, which failed in the world group and exited.
      expect(['MISMATCH', 'ABORTED', 'PEER_LOST']).toContain(e.code);
      if (e.code === 'PEER_LOST') expect(e.message).toMatch(/rank 1 exited or crashed.*; before that it reported a failure: allReduce #0 on group \[0, 1, 2\]/);
      expect(e.ms).toBeLessThan(3000);
    }
    const detected = r.filter((e) => e.code === 'MISMATCH');
    expect(detected.length).toBeGreaterThan(0);
    for (const e of detected) {
      const m = /on (group \[[\d, ]+\]) while this rank \(\d\) waits for its data of allReduce #\d \(f32 x 4, op sum\) on (group \[[\d, ]+\]); ranks must call the operations of the groups they share in the same order/.exec(
        e.message ?? '',
      );
      expect(m, e.message).not.toBeNull();
      expect(m?.[1]).not.toBe(m?.[2]);
    }
  }, 20_000);

  it('a recv of another dtype than its send; the sender learns it at its next call', async () => {
    const [sender, receiver] = await run(2, 'p2p-dtype');
    expect(receiver?.code).toBe('MISMATCH');
    expect(receiver?.message).toContain('recv from rank 0 on group [0, 1] (rank 1): rank 0 sent f32 x 10, but this rank (1) receives into bf16 x 10');
    expect(sender?.code).toBe('ABORTED');
    expect(sender?.message).toMatch(/^barrier #0 on group \[0, 1\] \(rank 0\): rank 1 reported a failure: recv from rank 0/);
  }, 20_000);

  it('a send that meets a collective', async () => {
    const [sender, receiver] = await run(2, 'p2p-vs-collective');
    expect(receiver?.code).toBe('MISMATCH');
    expect(receiver?.message).toContain(
      'rank 0 sent a point-to-point message #0 (f32 x 4) while this rank (1) waits for its data of allReduce #0 (f32 x 4, op sum)',
    );
    expect(['MISMATCH', 'ABORTED']).toContain(sender?.code);
  }, 20_000);
});

describe('failures', () => {
  it('a peer that shut down with destroy() is named as such', async () => {
    const [r0, r1] = await run(2, 'bye');
    expect(r1?.value).toBe('destroyed');
    expect(r0?.code).toBe('PEER_LOST');
    expect(r0?.message).toMatch(/rank 1 has shut down its process groups \(destroy\(\)\) and sends nothing more/);
    expect(r0?.ms).toBeLessThan(3000);
  }, 20_000);

  it('a failed group leaves the connections it shares with the world usable', async () => {
    for (const r of await run(2, 'survive')) {
      const v = r.value as { first: string; world: number[]; again: string };
      expect(r.ok, r.message).toBe(true);
      expect(v.first).toBe('MISMATCH');
      expect(v.world).toEqual([3, 20]);
      expect(v.again).toMatch(/^allReduce #1 on group \[0, 1\] \(rank \d\): this process group is unusable after an earlier failure: allReduce #0/);
    }
  }, 20_000);

  it('a send that nobody receives times out, naming the receiver', async () => {
    const [r0] = await run(2, 'send-timeout', 500);
    expect(r0?.code).toBe('TIMEOUT');
    expect(r0?.message).toMatch(/^send to rank 1 on group \[0, 1\] \(rank 0\): did not finish within 0\.5 s; it was waiting for rank 1 to take its data/);
    expect(r0?.ms).toBeGreaterThanOrEqual(450);
    expect(r0?.ms).toBeLessThan(3000);
  }, 20_000);
});
