// Gradient clipping at TP=2 x PP=2 (world of 4) against the same model unsplit in one process.
// Per pipeline stage s: W_s [8, 6] split by rows across TP (meta.tensorParallel), n_s [6]
// replicated across TP; stage 0 owns an embedding `emb` [5], and stage 1 holds its tied copy
// (meta.shared), which must not count twice.
import { type Distributed, ParallelState } from '@tessera/collectives';
import { noGrad, Parameter, type Tensor, tensor } from '@tessera/core';
import { AdamW, clipGradNorm, MixedPrecisionOptimizer } from '../../src/index.ts';
import { seeded } from '../helpers.ts';

interface Spec {
  name: string;
  shape: number[];
  tp: boolean;
  shared?: boolean;
}

const SPECS: Spec[][] = [
  [{ name: 'emb', shape: [5], tp: false }, { name: 'W0', shape: [8, 6], tp: true }, { name: 'n0', shape: [6], tp: false }],
  [{ name: 'W1', shape: [8, 6], tp: true }, { name: 'n1', shape: [6], tp: false }, { name: 'emb', shape: [5], tp: false, shared: true }],
];

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const fullValues = (spec: Spec, what: number) => seeded(numel(spec.shape), spec.name.charCodeAt(0) * 31 + spec.shape.length + what, -2, 2);

/** This rank's part of a full tensor: its row block for TP-split parameters. */
function part(spec: Spec, values: number[], tpRank: number, tp: number): { values: number[]; shape: number[] } {
  if (!spec.tp) return { values, shape: spec.shape };
  const rows = (spec.shape[0] as number) / tp;
  const cols = spec.shape[1] as number;
  return { values: values.slice(tpRank * rows * cols, (tpRank + 1) * rows * cols), shape: [rows, cols] };
}

function makeParam(values: number[], shape: number[], meta: Record<string, unknown>): Parameter {
  const t = tensor(values, { shape });
  const p = new Parameter(t, true, meta);
  t.dispose();
  return p;
}

export async function clipTp(dist: Distributed): Promise<unknown> {
  const ps = await ParallelState.create(dist, { tensor: 2, pipeline: 2 });
  const stage = ps.pipelineRank;
  const tpRank = ps.tensorRank;
  const mine = SPECS[stage] as Spec[];
  const build = () =>
    mine.map((spec) => {
      const w = part(spec, fullValues(spec, 1), tpRank, 2);
      const g = part(spec, fullValues(spec, 2), tpRank, 2);
      const p = makeParam(w.values, w.shape, { ...(spec.tp ? { tensorParallel: true, partitionDim: 0 } : {}), ...(spec.shared ? { shared: true } : {}) });
      p.grad = tensor(g.values, { shape: g.shape });
      return p;
    });
  // The unsplit model, in one process: every parameter once.
  const full = SPECS.flat().filter((s) => !s.shared);
  const fullNorm = Math.sqrt(full.reduce((acc, s) => acc + fullValues(s, 2).reduce((a, v) => a + v * v, 0), 0));

  const clipped = build();
  const norm = await clipGradNorm(clipped, 1, { groups: ps });
  const coef = 1 / (fullNorm + 1e-6);
  let clipDiff = 0;
  mine.forEach((spec, i) => {
    const expected = part(spec, fullValues(spec, 2), tpRank, 2).values.map((v) => v * coef);
    (clipped[i]!.grad as Tensor).toArray().forEach((v, k) => {
      clipDiff = Math.max(clipDiff, Math.abs(v - (expected[k] as number)));
    });
  });

  // An AdamW step through MixedPrecisionOptimizer with clipping, against the unsplit step.
  const params = build();
  const opt = new MixedPrecisionOptimizer(new AdamW(params, { lr: 0.1 }), { parallel: ps, clipGrad: 1 });
  const result = await opt.step();
  const refParams = mine.map((spec) => makeParam(fullValues(spec, 1), spec.shape, {}));
  refParams.forEach((p, i) => {
    p.grad = noGrad(() => tensor(fullValues(mine[i] as Spec, 2), { shape: (mine[i] as Spec).shape }).mul(coef));
  });
  const refOpt = new AdamW(refParams, { lr: 0.1 });
  refOpt.step();
  let stepDiff = 0;
  mine.forEach((spec, i) => {
    const expected = part(spec, (refParams[i] as Parameter).toArray(), tpRank, 2).values;
    (params[i] as Parameter).toArray().forEach((v, k) => {
      stepDiff = Math.max(stepDiff, Math.abs(v - (expected[k] as number)));
    });
  });
  return { coords: ps.coords, norm, fullNorm, clipDiff, stepNorm: result.gradNorm, stepDiff };
}
