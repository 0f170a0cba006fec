// The schedules' plans, checked without processes: every rank's plan run against the others by
// the simulator (no deadlock, every message meets the receive it is meant for, every forward and
// backward once, data there when needed), Megatron's warm-up lengths and orders, the in-flight
// bound of 1F1B, the ideal bubbles (p - 1)/m and (p - 1)/(v m), and the interleaved rules, which
// accept exactly the configurations that run.
import { describe, expect, it } from 'vitest';
import { checkScheduleShape } from '../validate.ts';
import { interleavedOrder, interleavedPlan, interleavedWarmup } from './interleaved.ts';
import { noPipeliningPlan } from './no-pipelining.ts';
import { oneFOneBPlan } from './one-f-one-b.ts';
import { SimulationError, simulatePlans } from './simulate.ts';
import type { CommOp, Step } from './types.ts';

const oneFOneB = (p: number, m: number, forwardOnly = false) =>
  Array.from({ length: p }, (_, r) => oneFOneBPlan({ pipelineSize: p, pipelineRank: r, numMicroBatches: m, forwardOnly }));
const interleaved = (p: number, v: number, m: number, G?: number, forwardOnly = false) =>
  Array.from({ length: p }, (_, r) => interleavedPlan({ pipelineSize: p, pipelineRank: r, virtualSize: v, numMicroBatches: m, forwardOnly, microBatchGroupSize: G }));

/** F<mb>[.chunk] / B<mb>[.chunk] of a plan's compute steps. */
function order(plan: Step[], chunks = false): string[] {
  return plan.flatMap((s) => (s.type === 'comm' ? [] : [`${s.type === 'forward' ? 'F' : 'B'}${s.microBatch}${chunks ? `.${s.chunk}` : ''}`]));
}

/** Every (chunk, micro-batch) forward (and backward) exactly once per rank. */
function expectComplete(plans: Step[][], v: number, m: number, forwardOnly: boolean): void {
  for (const plan of plans) {
    const seen = order(plan, true);
    const want: string[] = [];
    for (let c = 0; c < v; c++) for (let i = 0; i < m; i++) want.push(`F${i}.${c}`, ...(forwardOnly ? [] : [`B${i}.${c}`]));
    expect([...seen].sort()).toEqual(want.sort());
  }
}

/** The most micro-batches a plan holds between their forward and backward. */
function maxInFlight(plan: Step[]): number {
  let live = 0;
  let most = 0;
  for (const s of plan) {
    if (s.type === 'forward') most = Math.max(most, ++live);
    else if (s.type === 'backward') live--;
  }
  return most;
}

describe('1F1B plans', () => {
  it('run without deadlock for every small shape, forward-only too', () => {
    for (const p of [2, 3, 4, 5]) {
      for (let m = 1; m <= 10; m++) {
        for (const fo of [false, true]) {
          const plans = oneFOneB(p, m, fo);
          expect(() => simulatePlans(plans, 1), `p=${p} m=${m}`).not.toThrow();
          expectComplete(plans, 1, m, fo);
        }
      }
    }
  });

  it('warm up with min(pp - rank - 1, m) forwards and hold at most pp - rank micro-batches', () => {
    const plans = oneFOneB(4, 8);
    expect(order(plans[0] as Step[])).toEqual(['F0', 'F1', 'F2', 'F3', 'B0', 'F4', 'B1', 'F5', 'B2', 'F6', 'B3', 'F7', 'B4', 'B5', 'B6', 'B7']);
    expect(order(plans[2] as Step[])).toEqual(['F0', 'F1', 'B0', 'F2', 'B1', 'F3', 'B2', 'F4', 'B3', 'F5', 'B4', 'F6', 'B5', 'F7', 'B6', 'B7']);
    expect(order(plans[3] as Step[])).toEqual(['F0', 'B0', 'F1', 'B1', 'F2', 'B2', 'F3', 'B3', 'F4', 'B4', 'F5', 'B5', 'F6', 'B6', 'F7', 'B7']);
    for (const p of [2, 4, 6]) {
      for (const m of [1, 3, 8]) {
        oneFOneB(p, m).forEach((plan, r) => {
          expect(maxInFlight(plan)).toBe(Math.min(p - r, m));
        });
      }
    }
  });

  it('use Megatron\'s exchanges: recv_forward, send_forward, send_forward_recv_backward, send_backward_recv_forward', () => {
    const mid = oneFOneBPlan({ pipelineSize: 3, pipelineRank: 1, numMicroBatches: 2, forwardOnly: false });
    const text = mid.map((s) => (s.type === 'comm' ? s.ops.map((o) => `${o.op}-${o.peer}-${o.payload}${o.microBatch}`).join('+') : `${s.type}${s.microBatch}`));
    expect(text).toEqual([
      'recv-prev-activation0', 'forward0', 'send-next-activation0', // warm-up
      'recv-prev-activation1', 'forward1', 'send-next-activation1+recv-next-grad0', 'backward0', 'send-prev-grad0', // steady (last iteration)
      'recv-next-grad1', 'backward1', 'send-prev-grad1', // cool-down
    ]);
  });

  it('leave a bubble of (p - 1)/m of the ideal time (forward 1, backward 2)', () => {
    for (const p of [2, 4]) {
      for (const m of [4, 8, 16, 32]) {
        const sim = simulatePlans(oneFOneB(p, m), 1);
        for (const busy of sim.busy) expect((sim.makespan - busy) / busy).toBeCloseTo((p - 1) / m, 12);
      }
    }
  });
});

describe('interleaved plans', () => {
  it('go through micro-batch groups chunk by chunk (Megatron\'s schedule table)', () => {
    const table = interleavedOrder(5, 2, 3).map((x) => `${x.microBatch}.${x.chunk}`);
    expect(table).toEqual(['0.0', '1.0', '2.0', '0.1', '1.1', '2.1', '3.0', '4.0', '3.1', '4.1']); // the reference's PP2, v=2, m=5, G=3
    expect(interleavedOrder(4, 2, 2).map((x) => `${x.microBatch}.${x.chunk}`)).toEqual(['0.0', '1.0', '0.1', '1.1', '2.0', '3.0', '2.1', '3.1']);
  });

  it('warm up with 2 (pp - rank - 1) + (v - 1) G forwards, capped at m v', () => {
    expect([0, 1, 2, 3].map((r) => interleavedWarmup(4, r, 8, 2, 4))).toEqual([10, 8, 6, 4]);
    expect(interleavedWarmup(4, 0, 4, 2, 4)).toBe(8); // every forward first
    expect([0, 1].map((r) => interleavedWarmup(2, r, 4, 3, 2))).toEqual([6, 4]);
    const plan = interleaved(4, 2, 8)[1] as Step[];
    const steps = order(plan, true);
    expect(steps.slice(0, 8).every((s) => s.startsWith('F'))).toBe(true);
    expect(steps.slice(8, 10)).toEqual(['F4.0', 'B0.1']);
  });

  it('run without deadlock, each message meeting its receive, for every configuration the rules accept', () => {
    let runs = 0;
    for (const p of [2, 3, 4]) {
      for (const v of [2, 3]) {
        for (let m = p; m <= 12; m++) {
          for (let G = p; G <= m; G++) {
            if (m % G !== 0 && m % G < p) continue;
            for (const fo of [false, true]) {
              const plans = interleaved(p, v, m, G, fo);
              expect(() => simulatePlans(plans, v), `p=${p} v=${v} m=${m} G=${G} forwardOnly=${fo}`).not.toThrow();
              expectComplete(plans, v, m, fo);
              runs++;
            }
          }
        }
      }
    }
    expect(runs).toBeGreaterThan(300);
  });

  it('the rules (pp <= G <= m; the last group empty or at least pp) accept exactly the configurations that run', () => {
    for (const p of [2, 3, 4]) {
      for (const v of [2, 3]) {
        for (let m = 1; m <= 11; m++) {
          for (let G = 1; G <= m; G++) {
            let allowed = true;
            try {
              checkScheduleShape({ pipelineSize: p, virtualSize: v, numMicroBatches: m, microBatchGroupSize: G });
            } catch {
              allowed = false;
            }
            let runs = true;
            try {
              simulatePlans(interleaved(p, v, m, G), v);
            } catch (err) {
              expect(err).toBeInstanceOf(SimulationError);
              runs = false;
            }
            expect(allowed, `p=${p} v=${v} m=${m} G=${G}`).toBe(runs);
          }
        }
      }
    }
  });

  it('leave a bubble of (p - 1)/(v m) when pp divides m', () => {
    for (const p of [2, 4]) {
      for (const v of [2, 4]) {
        for (const m of [4, 8, 16, 32]) {
          const sim = simulatePlans(interleaved(p, v, m), v);
          for (const busy of sim.busy) expect((sim.makespan - busy) / busy).toBeCloseTo((p - 1) / (v * m), 12);
        }
      }
    }
  });

  it('with two stages (next = prev), activations go first in every exchange: torch\'s batch order pairs the wrong messages', () => {
    // Megatron's _batched_p2p_ops order: send_prev, recv_prev, send_next, recv_next. Between two
    // ranks that sends a gradient before an activation while the peer receives an activation first.
    const rank = (o: CommOp) => (o.peer === 'prev' ? 0 : 2) + (o.op === 'send' ? 0 : 1);
    const torchOrder = interleaved(2, 2, 4).map((plan) => plan.map((s) => (s.type === 'comm' ? { ...s, ops: [...s.ops].sort((a, b) => rank(a) - rank(b)) } : s)));
    expect(() => simulatePlans(torchOrder, 2)).toThrow(/rank \d's grad of c\d mb\d \(sent to its prev\) meets rank \d's receive of activation/);
    expect(() => simulatePlans(interleaved(2, 2, 4), 2)).not.toThrow();
  });
});

describe('the simulator', () => {
  it('reports a deadlock with every rank\'s stuck step', () => {
    // Both stages receive before sending.
    const plans: Step[][] = [
      [{ type: 'comm', ops: [{ op: 'recv', peer: 'next', payload: 'grad', chunk: 0, microBatch: 0 }] }],
      [{ type: 'comm', ops: [{ op: 'recv', peer: 'prev', payload: 'activation', chunk: 0, microBatch: 0 }] }],
    ];
    expect(() => simulatePlans(plans, 1)).toThrow(/deadlock: rank 0 waits in exchange \[recv grad c0 mb0 from next\]; rank 1 waits in exchange \[recv activation c0 mb0 from prev\]/);
  });

  it('reports a backward whose output gradient never came', () => {
    const plans: Step[][] = [[{ type: 'forward', chunk: 0, microBatch: 0 }, { type: 'backward', chunk: 0, microBatch: 0 }], [{ type: 'comm', ops: [] }]];
    expect(() => simulatePlans(plans, 1)).toThrow(/rank 0, step 1 \(backward c0 mb0\): its output gradient was never received/);
  });
});

describe('no pipelining', () => {
  it('is forward and backward of each micro-batch in turn (gradient accumulation)', () => {
    expect(order(noPipeliningPlan({ numMicroBatches: 3, forwardOnly: false }))).toEqual(['F0', 'B0', 'F1', 'B1', 'F2', 'B2']);
    expect(order(noPipeliningPlan({ numMicroBatches: 2, forwardOnly: true }))).toEqual(['F0', 'F1']);
  });
});
