// Runs every rank's plan against the others the way the cpu backend executes them: a rank blocks
// in an exchange until each of its messages has met its counterpart (the n-th send from a to b
// meets b's n-th receive from a), and compute steps take a given time. It reports a deadlock (with
// each rank's stuck step), a message that meets the wrong counterpart, or a step whose data is not
// there, and otherwise gives each rank's timeline. Tests check the plans with it; the bubble
// benchmark compares measured bubbles with its ideal ones.
import type { CommOp, CommStep, Step } from './types.ts';

export interface StepTiming {
  /** Time of one forward of a whole stage (a chunk takes 1 / v of it); default 1. */
  forward?: number;
  /** Time of one backward of a whole stage; default 2. */
  backward?: number;
}

export interface TimedStep {
  step: Step;
  start: number;
  end: number;
}

export interface Simulation {
  timelines: TimedStep[][];
  /** When the last rank finishes. */
  makespan: number;
  /** Compute time per rank. */
  busy: number[];
}

export class SimulationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationError';
  }
}

const key = (chunk: number, mb: number) => `${chunk}:${mb}`;
const describe = (s: Step) =>
  s.type === 'comm' ? `exchange [${s.ops.map((o) => `${o.op} ${o.payload} c${o.chunk} mb${o.microBatch} ${o.op === 'send' ? 'to' : 'from'} ${o.peer}`).join(', ')}]` : `${s.type} c${s.chunk} mb${s.microBatch}`;

interface Posted {
  rank: number;
  op: CommOp;
  time: number;
  matched: boolean;
  matchTime: number;
}

/** What the receiver of `op` (sent by `rank`) must have asked for. */
function expectedRecv(op: CommOp, rank: number, pp: number): { peer: 'next' | 'prev'; chunk: number } {
  if (op.payload === 'activation') return { peer: 'prev', chunk: rank === pp - 1 ? op.chunk + 1 : op.chunk };
  return { peer: 'next', chunk: rank === 0 ? op.chunk - 1 : op.chunk };
}

export function simulatePlans(plans: Step[][], virtualSize: number, timing: StepTiming = {}): Simulation {
  const pp = plans.length;
  const tf = (timing.forward ?? 1) / virtualSize;
  const tb = (timing.backward ?? 2) / virtualSize;
  const pc = new Array<number>(pp).fill(0);
  const clock = new Array<number>(pp).fill(0);
  const busy = new Array<number>(pp).fill(0);
  const timelines: TimedStep[][] = plans.map(() => []);
  const posted: (Posted[] | undefined)[] = new Array(pp).fill(undefined);
  const seq = new Map<string, number>(); // "send|a|b" / "recv|a|b" -> next sequence number
  const waiting = new Map<string, Posted>(); // "a|b|n" per side
  // What each rank has: forwards and backwards done, received inputs and gradients, computed input gradients.
  const state = plans.map(() => ({ fwd: new Set<string>(), bwd: new Set<string>(), inputs: new Set<string>(), grads: new Set<string>() }));
  const peerOf = (r: number, dir: 'next' | 'prev') => (dir === 'next' ? (r + 1) % pp : (r - 1 + pp) % pp);
  const fail = (r: number, why: string): never => {
    throw new SimulationError(`rank ${r}, step ${pc[r]} (${describe(plans[r]?.[pc[r] as number] as Step)}): ${why}`);
  };

  const compute = (r: number, s: Step & { type: 'forward' | 'backward' }) => {
    const st = state[r] as (typeof state)[number];
    const k = key(s.chunk, s.microBatch);
    if (s.type === 'forward') {
      if (st.fwd.has(k)) fail(r, 'this forward already ran');
      const firstVirtual = r === 0 && s.chunk === 0;
      if (!firstVirtual && !st.inputs.has(k)) fail(r, 'its input activation was never received');
      st.fwd.add(k);
    } else {
      if (!st.fwd.has(k)) fail(r, 'backward before its forward');
      if (st.bwd.has(k)) fail(r, 'this backward already ran');
      const lastVirtual = r === pp - 1 && s.chunk === virtualSize - 1;
      if (!lastVirtual && !st.grads.has(k)) fail(r, 'its output gradient was never received');
      st.bwd.add(k);
    }
    const d = s.type === 'forward' ? tf : tb;
    timelines[r]?.push({ step: s, start: clock[r] as number, end: (clock[r] as number) + d });
    clock[r] = (clock[r] as number) + d;
    busy[r] = (busy[r] as number) + d;
    pc[r] = (pc[r] as number) + 1;
  };

  const post = (r: number, s: CommStep) => {
    const list: Posted[] = [];
    for (const op of s.ops) {
      const peer = peerOf(r, op.peer);
      if (peer === r) fail(r, 'a message to this rank itself');
      const st = state[r] as (typeof state)[number];
      const k = key(op.chunk, op.microBatch);
      if (op.op === 'send' && op.payload === 'activation' && !st.fwd.has(k)) fail(r, `sends the activation of c${op.chunk} mb${op.microBatch} before computing it`);
      if (op.op === 'send' && op.payload === 'grad' && !st.bwd.has(k)) fail(r, `sends the gradient of c${op.chunk} mb${op.microBatch} before computing it`);
      const [a, b] = op.op === 'send' ? [r, peer] : [peer, r];
      const sk = `${op.op}|${a}|${b}`;
      const n = seq.get(sk) ?? 0;
      seq.set(sk, n + 1);
      const me: Posted = { rank: r, op, time: clock[r] as number, matched: false, matchTime: 0 };
      list.push(me);
      const other = waiting.get(`${op.op === 'send' ? 'recv' : 'send'}|${a}|${b}|${n}`);
      if (other) {
        const [send, recv] = op.op === 'send' ? [me, other] : [other, me];
        const want = expectedRecv(send.op, send.rank, pp);
        if (recv.op.payload !== send.op.payload || recv.op.peer !== want.peer || recv.op.chunk !== want.chunk || recv.op.microBatch !== send.op.microBatch) {
          fail(r, `rank ${send.rank}'s ${send.op.payload} of c${send.op.chunk} mb${send.op.microBatch} (sent to its ${send.op.peer}) meets rank ${recv.rank}'s receive of ${recv.op.payload} c${recv.op.chunk} mb${recv.op.microBatch} from its ${recv.op.peer}`);
        }
        me.matched = other.matched = true;
        me.matchTime = other.matchTime = Math.max(me.time, other.time);
        waiting.delete(`${other.op.op}|${a}|${b}|${n}`);
      } else {
        waiting.set(`${op.op}|${a}|${b}|${n}`, me);
      }
    }
    posted[r] = list;
  };

  for (;;) {
    let progress = false;
    let done = 0;
    for (let r = 0; r < pp; r++) {
      const plan = plans[r] as Step[];
      while ((pc[r] as number) < plan.length) {
        const s = plan[pc[r] as number] as Step;
        if (s.type !== 'comm') {
          compute(r, s);
          progress = true;
          continue;
        }
        if (!posted[r]) {
          post(r, s);
          progress = true;
        }
        const list = posted[r] as Posted[];
        if (!list.every((x) => x.matched)) break;
        const end = Math.max(clock[r] as number, ...list.map((x) => x.matchTime));
        timelines[r]?.push({ step: s, start: clock[r] as number, end });
        clock[r] = end;
        for (const x of list) {
          if (x.op.op !== 'recv') continue;
          const st = state[r] as (typeof state)[number];
          (x.op.payload === 'activation' ? st.inputs : st.grads).add(key(x.op.chunk, x.op.microBatch));
        }
        posted[r] = undefined;
        pc[r] = (pc[r] as number) + 1;
        progress = true;
      }
      if ((pc[r] as number) >= plan.length) done++;
    }
    if (done === pp) break;
    if (!progress) {
      const stuck = plans.map((plan, r) => ((pc[r] as number) < plan.length ? `rank ${r} waits in ${describe(plan[pc[r] as number] as Step)}` : `rank ${r} finished`));
      throw new SimulationError(`deadlock: ${stuck.join('; ')}`);
    }
  }
  for (const [k, w] of waiting) throw new SimulationError(`a message was never matched: ${k} (${describe({ type: 'comm', ops: [w.op] })} on rank ${w.rank})`);
  return { timelines, makespan: Math.max(...clock), busy };
}
