// Failures across processes end in errors within a bounded time, and the errors say what happened:
// ranks that disagree about a collective, a rank that dies, a rank that never shows up.
import { describe, expect, it } from 'vitest';
import { runWorld } from '../../test/spawn.ts';

interface ErrorReport {
  code: string;
  message: string;
  ms: number;
}

const reports = (outcomes: Awaited<ReturnType<typeof runWorld>>) => outcomes.map((o) => o.report as ErrorReport);

describe('mismatched calls', () => {
  it('a different element count fails every rank and names both sizes', async () => {
    const r = reports(await runWorld(4, 'mismatch', { args: ['size'] }));
    for (const e of r) {
      expect(['MISMATCH', 'ABORTED']).toContain(e.code);
      expect(e.ms).toBeLessThan(5000);
    }
    const detected = r.filter((e) => e.code === 'MISMATCH');
    expect(detected.length).toBeGreaterThan(0);
    for (const e of detected) expect(e.message).toMatch(/f32 x 12.*f32 x 10|f32 x 10.*f32 x 12/);
    // Ranks that did not see the bad frame learn it from the rank that did.
    for (const e of r.filter((x) => x.code === 'ABORTED')) expect(e.message).toMatch(/reported a failure/);
  }, 30_000);

  it('a rank that joins after a peer failed on the report and exited still names the report, not the exit', async () => {
    // Ring 0 -> 1 -> 2 -> 0: rank 2 finds rank 1's wrong size and reports it; rank 1 fails on the
    // report and exits. Rank 0 then finds rank 1 gone, with rank 2's report already waiting.
    const [late, odd, finder] = reports(await runWorld(3, 'mismatch', { args: ['size', 'late'] }));
    expect(finder?.code).toBe('MISMATCH');
    expect(odd?.code).toBe('ABORTED');
    expect(late?.code, late?.message).toBe('ABORTED');
    expect(late?.message).toMatch(/rank 2 reported a failure: .*rank 1 called allReduce, f32 x 12/);
  }, 30_000);

  it('a different dtype is named', async () => {
    const r = reports(await runWorld(2, 'mismatch', { args: ['dtype'] }));
    for (const e of r) {
      expect(e.code).toBe('MISMATCH');
      expect(e.message).toContain('bf16 x 10');
      expect(e.message).toContain('f32 x 10');
    }
  }, 30_000);

  it('a different collective is named', async () => {
    const r = reports(await runWorld(2, 'mismatch', { args: ['op'] }));
    // The broadcast's root only sends, so only the other rank sees the bad frame; it tells the root.
    expect(r.map((e) => e.code).sort()).toEqual(['ABORTED', 'MISMATCH']);
    for (const e of r) expect(e.message).toMatch(/called broadcast while .* called allReduce|called allReduce while .* called broadcast/);
  }, 30_000);
});

it('a rank that dies makes the others fail quickly, naming it', async () => {
  const outcomes = await runWorld(4, 'dead-peer');
  expect(outcomes[2]?.code).toBe(7);
  for (const o of outcomes.filter((x) => x.rank !== 2)) {
    const e = o.report as ErrorReport;
    expect(o.code, o.output).toBe(0);
    expect(['PEER_LOST', 'ABORTED']).toContain(e.code);
    expect(e.message).toMatch(/rank 2 exited or crashed/);
    expect(e.ms).toBeLessThan(5000);
  }
}, 30_000);

it('an operation that a peer never joins times out, naming the peer', async () => {
  const outcomes = await runWorld(2, 'timeout', { args: ['500'] });
  const e = outcomes[0]?.report as ErrorReport;
  expect(e.code).toBe('TIMEOUT');
  expect(e.message).toMatch(/did not finish within 0\.5 s; it was waiting for data from rank 1/);
  expect(e.ms).toBeGreaterThanOrEqual(450);
  expect(e.ms).toBeLessThan(3000);
}, 30_000);
