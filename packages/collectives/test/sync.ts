// Checks that need the cpu backend's synchronous operations, shared by the worker scenarios:
// collectives called inside autograd functions (forward and backward are synchronous, like the
// tensor-parallel mappings), and one batch of large messages of unequal sizes in both directions.
import { defineFunction, narrow, type Tensor, tensor, zeros } from '@tessera/core';
import type { ProcessGroup } from '../src/index.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Throws unless `t` holds `expected`, naming the first element that differs. */
function expectArray(what: string, t: Tensor, expected: number[]): void {
  const got = t.toArray() as number[];
  const bad = expected.findIndex((e, i) => got[i] !== e);
  if (got.length !== expected.length || bad >= 0) {
    throw new Error(`${what}: element ${bad} is ${got[bad]}, expected ${expected[bad]} (${got.length} elements)`);
  }
}

/**
 * Megatron's mappings written with waitSync(): reduce-from (forward sums over the group, backward
 * passes the gradient), copy-to (forward passes, backward sums the gradient) and gather (forward
 * all-gathers, backward keeps this rank's chunk).
 */
export function autogradMappings(g: ProcessGroup): string[] {
  const reduceFrom = defineFunction({
    name: 'reduceFromGroup',
    forward(_ctx, x: Tensor) {
      const y = x.clone();
      g.allReduce(y).waitSync();
      return y;
    },
    backward: (_ctx, gy) => [gy.clone()],
  });
  const copyTo = defineFunction({
    name: 'copyToGroup',
    forward: (_ctx, x: Tensor) => x.clone(),
    backward(_ctx, gy) {
      const gx = gy.clone();
      g.allReduce(gx).waitSync();
      return [gx];
    },
  });
  const gather = defineFunction({
    name: 'gatherFromGroup',
    forward(_ctx, x: Tensor) {
      const out = zeros([x.numel * g.size]);
      g.allGather(out, x).waitSync();
      return out;
    },
    backward: (_ctx, gy) => [narrow(gy, 0, g.rank * (gy.numel / g.size), gy.numel / g.size).clone()],
  });

  const r = g.rank;
  const ranks = range(g.size);
  const x = tensor([r + 1, 2 * (r + 1), 3], { requiresGrad: true });
  const w = tensor([1, r, 2]);
  const y = reduceFrom(copyTo(x));
  y.mul(w).sum().backward();
  expectArray('reduce-from forward', y, [0, 1, 2].map((i) => ranks.reduce((a, q) => a + [q + 1, 2 * (q + 1), 3][i]!, 0)));
  expectArray('copy-to backward', x.grad as Tensor, [g.size, ranks.reduce((a, q) => a + q, 0), 2 * g.size]);

  const v = tensor([10 * r, 10 * r + 1], { requiresGrad: true });
  const z = gather(v);
  const weights = tensor(range(2 * g.size).map((i) => i + 1));
  z.mul(weights).sum().backward();
  expectArray('gather forward', z, range(2 * g.size).map((i) => 10 * Math.floor(i / 2) + (i % 2)));
  expectArray('gather backward', v.grad as Tensor, [2 * r + 1, 2 * r + 2]);
  return ['reduce-from', 'copy-to', 'gather'];
}

/** Values of rank q's message of n elements (exact in f32). */
function message(q: number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 7 + q * 13) % 4099;
  return a;
}

function expectMessage(what: string, t: Tensor, q: number): void {
  const got = t.toTypedArray() as Float32Array;
  const want = message(q, t.numel);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/**
 * One batch per rank: a large message to the next rank and a smaller one to the previous, and the
 * two matching receives. Far larger than socket buffers, so it only finishes if both directions
 * progress at once. In a world of two both go to the same peer, in order.
 */
export function largeExchange(g: ProcessGroup): { forward: number; backward: number } {
  const r = g.rank;
  const n = g.size;
  const next = (r + 1) % n;
  const prev = (r - 1 + n) % n;
  const forward = (q: number) => 3_000_000 + 1013 * q;
  const backward = (q: number) => 1_700_003 + 7 * q;
  const toNext = tensor(message(r, forward(r)));
  const toPrev = tensor(message(r, backward(r)));
  const fromPrev = zeros([forward(prev)]);
  const fromNext = zeros([backward(next)]);
  g.batchSendRecv([
    { op: 'recv', tensor: fromPrev, peer: prev },
    { op: 'recv', tensor: fromNext, peer: next },
    { op: 'send', tensor: toNext, peer: next },
    { op: 'send', tensor: toPrev, peer: prev },
  ]).waitSync();
  expectMessage('from the previous rank', fromPrev, prev);
  expectMessage('from the next rank', fromNext, next);
  for (const t of [toNext, toPrev, fromPrev, fromNext]) t.dispose();
  return { forward: forward(prev), backward: backward(next) };
}
