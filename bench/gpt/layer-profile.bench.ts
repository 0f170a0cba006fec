// Where a GPT-2 training step spends its time on one GPU: each part of a decoder layer, the
// embedding and the loss, forward and forward + backward, at the benchmark's shapes (bf16, batch
// 16 x 1024). Each time is CUDA events around 5 back-to-back calls, median of 10 (host enqueue
// included, as in training). Sums are scaled to the whole model to compare with the step time of
// bench/gpt/train-step.bench.ts.
//
//   node --conditions=@tessera/source bench/gpt/layer-profile.bench.ts [--size gpt2-large] [--batch 16]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cudaAvailable, F, noGrad, randint, randn, scope, type Tensor, tensor,
} from '../../packages/core/src/index.ts';
import { type GptConfigName, GPTModel, gptConfig, maskedMeanLoss } from '../../packages/models/src/index.ts';
import { DistributedDataParallel } from '../../packages/optimizer/src/index.ts';
import { vocabParallelCrossEntropy } from '../../packages/tensor-parallel/src/index.ts';
import { timeMs } from '../common/timing.ts';


const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'gpt2-large' },
    batch: { type: 'string', default: '16' },
    // A CPU run checks the script itself: --device cpu --size gpt2-tiny --batch 1 --seq 64
    device: { type: 'string', default: 'cuda:0' },
    seq: { type: 'string', default: '1024' },
  },
});
const dev = values.device as string;
if (dev !== 'cpu' && !cudaAvailable()) {
  console.log('layer-profile: no CUDA device; nothing measured.');
  process.exit(0);
}
const SEQ = Number(values.seq);
const size = values.size as GptConfigName;
const batch = Number(values.batch);
const config = gptConfig(size, { hiddenDropout: 0, attentionDropout: 0, maxPositionEmbeddings: SEQ });
const model = new GPTModel(config, { dtype: 'bf16', device: dev });
const ddp = new DistributedDataParallel(model, {}); // main grads attached, as in training
const h = config.hiddenSize;
const heads = config.numAttentionHeads;
const d = h / heads;
const rows = batch * SEQ;

interface Part { name: string; perModel: number; fwd: number; fwdBwd: number }
const parts: Part[] = [];
const time = (fn: () => void) => (dev === 'cpu' ? timeOnCpu(fn) : timeMs(dev, fn, { calls: 5, reps: 10 }));

function timeOnCpu(fn: () => void): number {
  const t = performance.now();
  scope(fn);
  return performance.now() - t;
}

/** Forward alone (no graph) and forward + backward of f on fresh leaf inputs, with a random output gradient. */
function measure(name: string, perModel: number, makeInputs: () => Tensor[], f: (...xs: Tensor[]) => Tensor): void {
  const inputs = makeInputs();
  const fwd = time(() => noGrad(() => void f(...inputs)));
  const grads = scope(() => noGrad(() => f(...inputs)));
  const gy = randn(grads.shape, { dtype: grads.dtype, device: dev });
  grads.dispose();
  for (const x of inputs) if (x.dtype === 'bf16') x.requiresGrad = true;
  const fwdBwd = time(() => {
    f(...inputs).backward(gy);
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
  });
  gy.dispose();
  for (const x of inputs) x.dispose();
  parts.push({ name, perModel, fwd, fwdBwd });
}

const act = (cols: number) => () => [randn([SEQ, batch, cols], { dtype: 'bf16', device: dev })];
const layer = model.decoder.layers[0];
if (!layer) throw new Error('the model has no layers');
const attnInputs = { mask: undefined, causalOnly: true, rotary: undefined, alibi: undefined };
const L = config.numLayers;

measure('whole decoder layer', L, act(h), (x) => layer.forward(x, attnInputs));
measure('LayerNorm', 2 * L, act(h), (x) => layer.input_layernorm.forward(x));
measure('linear qkv (+bias, main grad)', L, act(h), (x) => layer.self_attention.linear_qkv.forward(x).output);
// What the layer runs: the fused kernels read q, k, v in place from the qkv projection's output.
measure('fused attention on packed qkv', L, act(3 * h), (x) => F.attentionPacked(x.reshape(SEQ, batch, heads, 3 * d), { causal: true }));
measure('linear proj (+bias, main grad)', L, act(h), (x) => layer.self_attention.linear_proj.forward(x).output);
measure('residual add', 2 * L, () => [...act(h)(), ...act(h)()], (a, b) => (a as Tensor).add(b as Tensor));
measure('MLP: fc1 + GELU + fc2 fused (+biases, main grads)', L, act(h), (x) => layer.mlp.forward(x));
const outputLayer = model.output_layer;
if (!outputLayer) throw new Error('the model has no output layer');
const labels = randint(0, 50257, [SEQ, batch], { device: dev });
measure('final LayerNorm', 1, act(h), (x) => (model.decoder.final_layernorm as NonNullable<typeof model.decoder.final_layernorm>).forward(x));
measure('output layer (tied) + cross entropy', 1, act(h), (x) => vocabParallelCrossEntropy(outputLayer.forward(x, model.outputWeight).output, labels, model.tp));
// For comparison, not part of the layer's sum: the unfused pieces the fusions replaced.
const unfused = 0;
measure('  unfused: split qkv into q, k, v', unfused, act(3 * h), (x) => x.reshape(SEQ, batch, heads, 3 * d).split([d, d, d], 3)[0] as Tensor);
measure('  unfused: fused attention on split q, k, v', unfused, () => [0, 1, 2].map(() => randn([SEQ, batch, heads, d], { dtype: 'bf16', device: dev })), (q, k, v) => F.attention(q as Tensor, k as Tensor, v as Tensor, { causal: true }));
measure('  unfused: linear fc1 (+bias, main grad)', unfused, act(h), (x) => layer.mlp.linear_fc1.forward(x).output);
measure('  unfused: GELU (tanh)', unfused, act(4 * h), (x) => x.gelu('tanh'));
measure('  unfused: linear fc2 (+bias, main grad)', unfused, act(4 * h), (x) => layer.mlp.linear_fc2.forward(x).output);
measure('  unfused: bias gradient alone, sum over rows of [rows, 4h]', unfused, () => [randn([rows, 4 * h], { dtype: 'bf16', device: dev })], (x) => x.sum(0));

const ids = randint(0, 50257, [batch, SEQ], { device: dev });
const mask = tensor(new Float32Array(rows).fill(1), { shape: [batch, SEQ], device: dev });
const embedding = model.embedding;
if (!embedding) throw new Error('the model has no embedding');
const hiddenFwd = time(() => noGrad(() => void embedding.forward(ids)));
parts.push({ name: 'embedding (forward only)', perModel: 1, fwd: hiddenFwd, fwdBwd: hiddenFwd });
const stepFwd = time(() => noGrad(() => void maskedMeanLoss(model.forward(ids, { labels: ids }), mask)));
const stepFwdBwd = time(() => {
  maskedMeanLoss(model.forward(ids, { labels: ids }), mask).backward();
});

console.log(`${size}, bf16, batch ${batch} x ${SEQ}, ${L} layers; ms per call (5 back-to-back calls between CUDA events, median of 10)`);
console.log('| part | calls per step | forward | forward + backward | step share (fwd+bwd x calls) |');
console.log('|---|---:|---:|---:|---:|');
for (const p of parts) {
  console.log(`| ${p.name} | ${p.perModel} | ${p.fwd.toFixed(3)} | ${p.fwdBwd.toFixed(3)} | ${(p.fwdBwd * p.perModel).toFixed(1)} ms |`);
}
console.log(`whole model: forward ${stepFwd.toFixed(1)} ms, forward + backward ${stepFwdBwd.toFixed(1)} ms`);
const outDir = process.env.OUT ?? join(import.meta.dirname, '..', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `gpt-layer-profile-${size}.json`), JSON.stringify({ date: new Date().toISOString(), size, batch, seq: SEQ, parts, stepFwd, stepFwdBwd }, null, 2));
ddp.dispose();
model.dispose();
