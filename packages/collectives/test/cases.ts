// Checks of every collective against values computed here in plain JS. Shared by the multi-process
// cpu tests (each rank of a worker runs them) and the GPU tests (node:test), so it uses no test
// framework: a case throws when a result is wrong. Inputs are small integers (exact in every
// dtype, so sums are exact too), and i64 inputs sit above 2^52 so a detour through doubles shows.
import { type Device, type DType, narrow, type Tensor, tensor, zeros } from '@tessera/core';
import type { P2POp, ProcessGroup, ReduceOp } from '../src/index.ts';

export interface Case {
  name: string;
  run(group: ProcessGroup, device: Device): Promise<void>;
}

type Value = number | bigint;
const BIG = 2n ** 52n;

/** Member r's i-th input value for a dtype (salt varies it between cases). */
export function inputValue(dtype: DType, r: number, i: number, salt = 0, op?: ReduceOp): Value {
  const small = ((r * 7 + i * 3 + salt) % 11) - 5;
  if (dtype === 'bool') return (r + i + salt) % 3 === 0 ? 1 : 0;
  if (dtype === 'i64') return op === 'avg' ? BigInt(small) : BIG + BigInt(small * 1000 + r);
  return small;
}

function makeTensor(dtype: DType, values: Value[], device: Device): Tensor {
  if (dtype === 'i64') return tensor(BigInt64Array.from(values.map((v) => BigInt(v))), { dtype, device });
  return tensor(values.map(Number), { dtype, device });
}

function readValues(t: Tensor): Value[] {
  if (t.dtype === 'i64') return Array.from(t.toTypedArray() as BigInt64Array);
  return t.toArray();
}

/** v as the dtype stores a float result (computed in fp32, then rounded to 16 bits). */
function roundTo(dtype: DType, v: number): number {
  if (dtype === 'f64') return v;
  const t = tensor([Math.fround(v)], { dtype });
  const r = t.toArray()[0] as number;
  t.dispose();
  return r;
}

/** op over members' values (bool: sum is any, min is all). */
export function reduceValues(dtype: DType, op: ReduceOp, values: Value[]): Value {
  if (dtype === 'i64') {
    const vs = values as bigint[];
    if (op === 'max' || op === 'min') {
      let best = vs[0] as bigint;
      for (const v of vs) if (op === 'max' ? v > best : v < best) best = v;
      return best;
    }
    const sum = vs.reduce((a, b) => a + b, 0n);
    return op === 'avg' ? sum / BigInt(vs.length) : sum;
  }
  const vs = values as number[];
  if (dtype === 'bool') return op === 'min' ? Math.min(...vs) : Math.max(...vs);
  if (op === 'max') return Math.max(...vs);
  if (op === 'min') return Math.min(...vs);
  const sum = vs.reduce((a, b) => a + b, 0);
  return op === 'avg' ? roundTo(dtype, sum / vs.length) : sum;
}

/** Throws with the first differing element (floats of an avg may differ by one unit of rounding). */
export function expectValues(what: string, t: Tensor, expected: Value[], loose = false): void {
  const got = readValues(t);
  if (got.length !== expected.length) throw new Error(`${what}: ${got.length} elements, expected ${expected.length}`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as Value;
    const e = expected[i] as Value;
    const ok = loose && typeof e === 'number' ? Math.abs(Number(g) - e) <= 1e-2 * Math.max(1, Math.abs(e)) : g === e;
    if (!ok) throw new Error(`${what}: element ${i} is ${g}, expected ${e}`);
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function allReduceCase(dtype: DType, n: number, op: ReduceOp): Case {
  return {
    name: `allReduce ${dtype} x ${n} ${op}`,
    async run(g, device) {
      const t = makeTensor(dtype, range(n).map((i) => inputValue(dtype, g.rank, i, n, op)), device);
      await g.allReduce(t, op).wait();
      const expected = range(n).map((i) => reduceValues(dtype, op, range(g.size).map((r) => inputValue(dtype, r, i, n, op))));
      expectValues(this.name, t, expected, op === 'avg');
      t.dispose();
    },
  };
}

function reduceScatterCase(dtype: DType, m: number, op: ReduceOp): Case {
  return {
    name: `reduceScatter ${dtype} chunk ${m} ${op}`,
    async run(g, device) {
      const input = makeTensor(dtype, range(m * g.size).map((i) => inputValue(dtype, g.rank, i, m, op)), device);
      const output = zeros([m], { dtype, device });
      await g.reduceScatter(output, input, op).wait();
      const expected = range(m).map((j) => reduceValues(dtype, op, range(g.size).map((r) => inputValue(dtype, r, g.rank * m + j, m, op))));
      expectValues(this.name, output, expected, op === 'avg');
      expectValues(`${this.name} (input unchanged)`, input, range(m * g.size).map((i) => inputValue(dtype, g.rank, i, m, op)));
      input.dispose();
      output.dispose();
    },
  };
}

function allGatherCase(dtype: DType, m: number): Case {
  return {
    name: `allGather ${dtype} chunk ${m}`,
    async run(g, device) {
      const input = makeTensor(dtype, range(m).map((i) => inputValue(dtype, g.rank, i, 1)), device);
      const output = zeros([m * g.size], { dtype, device });
      await g.allGather(output, input).wait();
      expectValues(this.name, output, range(m * g.size).map((k) => inputValue(dtype, Math.floor(k / m), k % m, 1)));
      input.dispose();
      output.dispose();
    },
  };
}

function broadcastCase(dtype: DType, n: number, root: (size: number) => number): Case {
  const rootName = root(1) === 0 && root(4) === 0 ? 'first' : 'last';
  return {
    name: `broadcast ${dtype} x ${n} from the ${rootName} rank`,
    async run(g, device) {
      const src = root(g.size);
      const t = makeTensor(dtype, range(n).map((i) => inputValue(dtype, g.rank, i, 2)), device);
      await g.broadcast(t, src).wait();
      expectValues(this.name, t, range(n).map((i) => inputValue(dtype, src, i, 2)));
      t.dispose();
    },
  };
}

/** Every member sends to the next and receives from the previous, in one batch. */
function ringExchangeCase(dtype: DType, n: number): Case {
  return {
    name: `batchSendRecv ring ${dtype} x ${n}`,
    async run(g, device) {
      const next = (g.rank + 1) % g.size;
      const prev = (g.rank - 1 + g.size) % g.size;
      const out = makeTensor(dtype, range(n).map((i) => inputValue(dtype, g.rank, i, 3)), device);
      const into = zeros([n], { dtype, device });
      const ops: P2POp[] = [
        { op: 'recv', tensor: into, peer: prev },
        { op: 'send', tensor: out, peer: next },
      ];
      await g.batchSendRecv(ops).wait();
      expectValues(this.name, into, range(n).map((i) => inputValue(dtype, prev, i, 3)));
      out.dispose();
      into.dispose();
    },
  };
}

/** Pairs (0,1), (2,3), ... exchange with plain send/recv, even ranks sending first. */
const pairedSendRecv: Case = {
  name: 'send/recv between pairs',
  async run(g, device) {
    const peer = g.rank % 2 === 0 ? g.rank + 1 : g.rank - 1;
    if (peer >= g.size) return;
    const mine = makeTensor('f32', range(9).map((i) => inputValue('f32', g.rank, i, 4)), device);
    const theirs = zeros([9], { device });
    if (g.rank % 2 === 0) {
      await g.send(mine, peer).wait();
      await g.recv(theirs, peer).wait();
    } else {
      await g.recv(theirs, peer).wait();
      await g.send(mine, peer).wait();
    }
    expectValues('send/recv', theirs, range(9).map((i) => inputValue('f32', peer, i, 4)));
    mine.dispose();
    theirs.dispose();
  },
};

const selfSendRecv: Case = {
  name: 'send to and recv from oneself in a batch',
  async run(g, device) {
    const a = tensor([1, 2, 3], { device });
    const b = zeros([3], { device });
    await g.batchSendRecv([
      { op: 'send', tensor: a, peer: g.rank },
      { op: 'recv', tensor: b, peer: g.rank },
    ]).wait();
    expectValues('self send/recv', b, [1, 2, 3]);
    a.dispose();
    b.dispose();
  },
};

const viewCase: Case = {
  name: 'allReduce of a view changes only the view',
  async run(g, device) {
    const base = tensor(range(12).map((i) => i + 100 * g.rank), { device });
    const view = narrow(base, 0, 3, 5);
    await g.allReduce(view, 'sum').wait();
    const total = range(g.size).reduce((a, r) => a + 100 * r, 0);
    expectValues('view', base, range(12).map((i) => (i >= 3 && i < 8 ? g.size * i + total : i + 100 * g.rank)));
    view.dispose();
    base.dispose();
  },
};

const inPlaceCase: Case = {
  name: 'in-place reduceScatter and allGather (output and input share memory)',
  async run(g, device) {
    const m = 4;
    const buf = tensor(range(m * g.size).map((i) => i + g.rank), { device });
    const mine = narrow(buf, 0, g.rank * m, m);
    await g.reduceScatter(mine, buf, 'sum').wait();
    const sumR = range(g.size).reduce((a, r) => a + r, 0);
    expectValues('in-place reduceScatter', mine, range(m).map((j) => g.size * (g.rank * m + j) + sumR));
    await g.allGather(buf, mine).wait();
    expectValues('in-place allGather', buf, range(m * g.size).map((k) => g.size * k + sumR));
    mine.dispose();
    buf.dispose();
  },
};

const overlapCase: Case = {
  name: 'several operations in flight, inputs disposed before wait()',
  async run(g, device) {
    const n = 1000;
    const ts = [0, 1, 2].map((k) => tensor(range(n).map((i) => (i % 7) + k + g.rank), { device }));
    const outs = ts.map(() => zeros([n * g.size], { device }));
    // Each allGather runs after its allReduce (one group runs its calls in order).
    const works = ts.map((t, k) => [g.allReduce(t, 'max'), g.allGather(outs[k] as Tensor, t)] as const);
    for (const t of ts) t.dispose(); // the works keep the memory until they are done
    for (const [a, b] of works) {
      await a.wait();
      await b.wait();
      if (!a.completed || !b.completed) throw new Error('completed is false after wait()');
    }
    for (const [k, o] of outs.entries()) expectValues(`in flight #${k}`, o, range(n * g.size).map((j) => ((j % n) % 7) + k + g.size - 1));
    for (const o of outs) o.dispose();
  },
};

const largeCase: Case = {
  name: 'allReduce f32 x 300001 (several segments per chunk)',
  async run(g, device) {
    const n = 300_001;
    const t = tensor(range(n).map((i) => (i % 13) - 6 + g.rank), { device });
    await g.allReduce(t, 'sum').wait();
    const sumR = range(g.size).reduce((a, r) => a + r, 0);
    expectValues(this.name, t, range(n).map((i) => g.size * ((i % 13) - 6) + sumR));
    t.dispose();
  },
};

const barrierCase: Case = {
  name: 'barrier',
  async run(g) {
    await g.barrier();
    await g.barrier();
  },
};

const FULL: DType[] = ['f32', 'bf16', 'i64'];
const OPS: ReduceOp[] = ['sum', 'avg', 'max', 'min'];

/** Every check, in a fixed order (each rank runs them in the same order). */
export function collectiveCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of FULL) for (const n of [0, 1, 5, 1001]) for (const op of OPS) cases.push(allReduceCase(dtype, n, op));
  for (const op of OPS) cases.push(allReduceCase('f16', 7, op));
  for (const op of ['sum', 'max', 'min'] as ReduceOp[]) cases.push(allReduceCase('bool', 7, op));
  cases.push(allReduceCase('f64', 7, 'sum'), allReduceCase('f64', 7, 'avg'), allReduceCase('i32', 7, 'max'), allReduceCase('i32', 7, 'avg'));
  for (const dtype of FULL) for (const m of [0, 3, 257]) for (const op of OPS) cases.push(reduceScatterCase(dtype, m, op));
  cases.push(reduceScatterCase('f16', 3, 'sum'), reduceScatterCase('bool', 3, 'sum'), reduceScatterCase('bool', 3, 'min'));
  for (const dtype of FULL) for (const m of [0, 1, 333]) cases.push(allGatherCase(dtype, m));
  cases.push(allGatherCase('f16', 5), allGatherCase('bool', 5));
  for (const dtype of FULL) {
    for (const n of [0, 17]) {
      cases.push(broadcastCase(dtype, n, () => 0), broadcastCase(dtype, n, (size) => size - 1));
    }
  }
  cases.push(broadcastCase('f16', 6, () => 0), broadcastCase('bool', 6, (size) => size - 1));
  for (const dtype of FULL) for (const n of [0, 5, 70_001]) cases.push(ringExchangeCase(dtype, n));
  cases.push(ringExchangeCase('bool', 9), pairedSendRecv, selfSendRecv, viewCase, inPlaceCase, overlapCase, largeCase, barrierCase);
  return cases;
}

/** A smaller set for sub-groups and other layouts. */
export function quickCases(): Case[] {
  return [
    allReduceCase('f32', 11, 'sum'),
    allReduceCase('bf16', 11, 'max'),
    allReduceCase('i64', 3, 'min'),
    reduceScatterCase('f32', 3, 'avg'),
    allGatherCase('i64', 4),
    broadcastCase('f32', 9, (size) => size - 1),
    ringExchangeCase('f32', 6),
    barrierCase,
  ];
}

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

/** Runs cases in order; a failing case is recorded and the rest still run (if the group survives). */
export async function runCases(cases: Case[], group: ProcessGroup, device: Device): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    try {
      await c.run(group, device);
      results.push({ name: c.name, ok: true });
    } catch (err) {
      results.push({ name: c.name, ok: false, error: (err as Error).message });
    }
  }
  return results;
}
