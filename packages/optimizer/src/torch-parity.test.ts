// Parity with torch.optim on the same weights and gradients, from fixtures made on the GPU
// machine's Python by tools/fixtures/make_optimizer_fixtures.py. Skips (saying how to make the
// fixture) when the file is absent.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Parameter } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, maxScaledDiff, param, setGrad } from '../test/helpers.ts';
import { Adam, AdamW, type Optimizer, SGD } from './index.ts';

const FIXTURE = join(import.meta.dirname, '..', 'test', 'fixtures', 'optimizer-torch.json');
const present = existsSync(FIXTURE);
if (!present) {
  console.warn(
    `torch parity skipped: ${FIXTURE} is missing. Make it on a machine with PyTorch:\n` +
      '  OUT=/tmp/fx python3 tools/fixtures/make_optimizer_fixtures.py && cp /tmp/fx/optimizer-torch.json packages/optimizer/test/fixtures/',
  );
}

interface Step {
  grads: number[][];
  params: number[][];
  exp_avg?: number[][];
  exp_avg_sq?: number[][];
  momentum_buffer?: number[][];
}
interface Case {
  name: string;
  optimizer: 'AdamW' | 'Adam' | 'SGD';
  lr: number;
  betas?: [number, number];
  eps?: number;
  weight_decay: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  shapes: number[][];
  initial: number[][];
  steps: Step[];
}

function build(c: Case, params: Parameter[]): Optimizer<never> {
  if (c.optimizer === 'SGD') {
    return new SGD(params, { lr: c.lr, momentum: c.momentum, dampening: c.dampening, nesterov: c.nesterov, weightDecay: c.weight_decay }) as unknown as Optimizer<never>;
  }
  const Cls = c.optimizer === 'AdamW' ? AdamW : Adam;
  return new Cls(params, { lr: c.lr, betas: c.betas, eps: c.eps, weightDecay: c.weight_decay }) as unknown as Optimizer<never>;
}

describe.skipIf(!present)('torch.optim parity (fixture from the GPU machine)', () => {
  const cases = present ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases : [];
  for (const c of cases) {
    // Adam(W) runs torch's formula in one fused kernel: 1e-6 absolute. SGD is composed of core ops,
    // whose rounding (FMA or not) may differ from ATen's by an ulp per op: 1e-6 relative above 1.
    const diff = c.optimizer === 'SGD' ? maxScaledDiff : maxAbsDiff;
    it(`${c.name}: every step's weights and state within 1e-6 of torch (fp32)`, () => {
      const params = c.shapes.map((shape, i) => param(c.initial[i] as number[], shape));
      const opt = build(c, params);
      c.steps.forEach((step, k) => {
        params.forEach((p, i) => {
          setGrad(p, step.grads[i] as number[]);
        });
        opt.step();
        params.forEach((p, i) => {
          expect(diff(p.toArray(), step.params[i] as number[]), `${c.name} step ${k + 1} param ${i}`).toBeLessThan(1e-6);
          const st = opt.stateOf(p)?.tensors ?? {};
          for (const key of ['exp_avg', 'exp_avg_sq', 'momentum_buffer'] as const) {
            const expected = step[key]?.[i];
            if (expected) expect(diff((st[key] as Parameter).toArray(), expected), `${c.name} step ${k + 1} ${key} ${i}`).toBeLessThan(1e-6);
          }
        });
      });
      opt.dispose();
      for (const p of params) p.dispose();
    });
  }
});
