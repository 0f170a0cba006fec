// The Transformers parity fixtures (tools/fixtures/make_hf_fixtures.py): where they are, and the
// comparison of a Tessera model's outputs with the expected ones.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scope, type Tensor } from '@tessera/core';
import type { GPTModel } from '../src/gpt/model.ts';
import { SafetensorsFile } from '../src/safetensors/file.ts';
import { readTensor } from '../src/safetensors/tensor.ts';

export const HF_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hf');
export const HF_MODELS = ['gpt2', 'llama', 'llama-sharded'] as const;
export const MISSING_FIXTURES_REASON = 'Transformers fixtures absent: run `python3 tools/fixtures/make_hf_fixtures.py` (torch, transformers, safetensors)';

export function hfFixturesPresent(): boolean {
  return HF_MODELS.every((m) => existsSync(join(HF_FIXTURES, m, 'expected.safetensors')));
}

export interface ParityResult {
  /** Largest |Tessera - Transformers| over the logits of the real vocabulary, and over the per-token losses. */
  logits: number;
  perToken: number;
  /** |mean loss - Transformers' loss|. */
  loss: number;
}

function maxAbsDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error(`comparing ${a.length} values with ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * Runs `model` (eval mode, full logits: built with parallelOutput false at TP > 1) on the
 * fixture's input ids and compares logits and losses with what Transformers computed. Logits are
 * checked in `expectedLogits` ('logits' for fp32, 'logits_bf16' for the GPU's bf16 run).
 */
export function compareWithTransformers(model: GPTModel, dir: string, expectedLogits = 'logits'): ParityResult {
  const expected = SafetensorsFile.open(join(dir, 'expected.safetensors'));
  return scope(() => {
    const device = model.outputWeight.device;
    const ids = readTensor(expected, 'input_ids', { device });
    const [b, s] = ids.shape as [number, number];
    const vocab = model.config.vocabSize;
    const logits: Tensor = model.forward(ids);
    const real = logits.shape[2] === vocab ? logits : logits.narrow(2, 0, vocab);
    // Next-token loss: inputs are all tokens but the last, labels all but the first.
    const perToken = model.forward(ids.narrow(1, 0, s - 1), { labels: ids.narrow(1, 1, s - 1) });
    const want = readTensor(expected, 'per_token_loss').toArray();
    const got = perToken.toArray();
    const mean = got.reduce((x, y) => x + y, 0) / (b * (s - 1));
    const lossKey = expectedLogits === 'logits' ? 'loss' : 'loss_bf16';
    return {
      logits: maxAbsDiff(real.to('f32').toArray(), readTensor(expected, expectedLogits).to('f32').toArray()),
      perToken: maxAbsDiff(got, want),
      loss: Math.abs(mean - readTensor(expected, lossKey).item()),
    };
  });
}
