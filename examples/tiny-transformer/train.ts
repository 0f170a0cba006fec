// The smallest real training demo: a two-layer causal transformer learns to sort sequences of
// digits, then sorts fresh sequences by greedy decoding. Runs on CUDA when available, else CPU.
//
//   node --conditions=@tessera/source examples/tiny-transformer/train.ts [--steps 500] [--batch 64]
//        [--lr 3e-3] [--device cpu|cuda] [--seed 1234] [--hidden 64] [--layers 2] [--quiet]
import { parseArgs } from 'node:util';
import { cudaAvailable, type Device, F, manualSeed, noGrad, scope, tensor, type Tensor, cat } from '@tessera/core';
import { TinyAdamW } from './adamw.ts';
import { TinyTransformer } from './model.ts';

const DIGITS = 10;
const SEP = 10;
const LENGTH = 8; // digits to sort

function options() {
  try {
    const { values } = parseArgs({
      options: {
        steps: { type: 'string', default: '500' },
        batch: { type: 'string', default: '64' },
        lr: { type: 'string', default: '3e-3' },
        device: { type: 'string' },
        seed: { type: 'string', default: '1234' },
        hidden: { type: 'string', default: '64' },
        layers: { type: 'string', default: '2' },
        quiet: { type: 'boolean', default: false },
      },
    });
    const int = (name: keyof typeof values) => {
      const v = Number(values[name]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got '${values[name]}'`);
      return v;
    };
    const lr = Number(values.lr);
    if (!(lr > 0)) throw new Error(`--lr must be a positive number, got '${values.lr}'`);
    const device = (values.device ?? (cudaAvailable() ? 'cuda' : 'cpu')) as string;
    if (device !== 'cpu' && !device.startsWith('cuda')) throw new Error(`--device must be cpu or cuda[:N], got '${device}'`);
    return {
      steps: int('steps'), batch: int('batch'), lr, seed: int('seed'), hidden: int('hidden'), layers: int('layers'),
      device: (device === 'cuda' ? 'cuda:0' : device) as Device, quiet: values.quiet as boolean,
    };
  } catch (err) {
    console.error(`train: ${(err as Error).message}`);
    process.exit(2);
  }
}

/** A batch of [digits..., SEP, sorted digits...] rows from a seeded generator. */
function makeBatch(rand: () => number, batch: number): number[] {
  const rows: number[] = [];
  for (let b = 0; b < batch; b++) {
    const digits = Array.from({ length: LENGTH }, () => Math.floor(rand() * DIGITS));
    rows.push(...digits, SEP, ...[...digits].sort((x, y) => x - y));
  }
  return rows;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const opts = options();
manualSeed(opts.seed);
const seqLen = 2 * LENGTH; // inputs: all but the last token
const model = new TinyTransformer(
  { vocab: DIGITS + 1, seqLen, hidden: opts.hidden, heads: 4, layers: opts.layers, dropout: 0 },
  { device: opts.device },
);
const optimizer = new TinyAdamW(model.parameters(), { lr: opts.lr, weightDecay: 0.01 });
const rand = lcg(opts.seed);
const log = (line: string) => {
  if (!opts.quiet) console.log(line);
};
log(`tiny transformer: ${model.numParameters()} parameters on ${opts.device}; sorting ${LENGTH} digits`);

let firstLoss = Number.NaN;
let lastLoss = Number.NaN;
const start = performance.now();
let windowStart = start;
for (let step = 1; step <= opts.steps; step++) {
  const loss = scope(() => {
    const rows = tensor(makeBatch(rand, opts.batch), { shape: [opts.batch, 2 * LENGTH + 1], dtype: 'i64', device: opts.device });
    const inputs = rows.narrow(1, 0, seqLen).clone();
    // Only the sorted half is predicted: earlier targets are ignored.
    const targets = cat([tensor(new Array(opts.batch * LENGTH).fill(-100), { shape: [opts.batch, LENGTH], dtype: 'i64', device: opts.device }), rows.narrow(1, LENGTH + 1, LENGTH)], 1);
    const lossT = F.crossEntropy(model.forward(inputs), targets);
    lossT.backward();
    const lr = opts.lr * Math.min(1, step / 50); // linear warm-up
    optimizer.update(lr);
    model.zeroGrad();
    return lossT.item();
  });
  if (step === 1) firstLoss = loss;
  lastLoss = loss;
  if (step % 50 === 0 || step === opts.steps) {
    const now = performance.now();
    const steps = step % 50 === 0 ? 50 : step % 50;
    const msPerStep = (now - windowStart) / steps;
    const tokensPerSecond = (opts.batch * seqLen) / (msPerStep / 1000);
    log(`step ${String(step).padStart(5)}/${opts.steps}  loss ${loss.toFixed(4)}  ${msPerStep.toFixed(1)} ms/step  ${Math.round(tokensPerSecond)} tokens/s`);
    windowStart = now;
  }
}

// Greedy decoding on fresh sequences: feed the prompt, append the argmax, repeat.
model.eval();
const evalRows = 256;
const accuracy = noGrad(() =>
  scope(() => {
    const data = makeBatch(lcg(opts.seed + 1), evalRows);
    const rows = tensor(data, { shape: [evalRows, 2 * LENGTH + 1], dtype: 'i64', device: opts.device });
    let seq: Tensor = rows.narrow(1, 0, LENGTH + 1).clone();
    for (let i = 0; i < LENGTH; i++) {
      const logits = model.forward(seq);
      const next = logits.narrow(1, seq.shape[1] as number - 1, 1).argmax(-1);
      seq = cat([seq, next], 1);
    }
    const got = seq.narrow(1, LENGTH + 1, LENGTH).toArray();
    let exact = 0;
    for (let r = 0; r < evalRows; r++) {
      const want = data.slice(r * (2 * LENGTH + 1) + LENGTH + 1, (r + 1) * (2 * LENGTH + 1));
      if (want.every((v, j) => v === got[r * LENGTH + j])) exact++;
    }
    return exact / evalRows;
  }),
);
const seconds = (performance.now() - start) / 1000;
console.log(`done in ${seconds.toFixed(1)} s: loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(4)}; sorted ${(accuracy * 100).toFixed(1)}% of ${evalRows} fresh sequences exactly`);
model.dispose();
optimizer.dispose();
if (!(lastLoss < firstLoss)) {
  console.error('train: the loss did not fall');
  process.exit(1);
}
