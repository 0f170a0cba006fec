// Parity with Hugging Face Transformers on tiny random GPT-2 and Llama models (GQA, RoPE, SwiGLU,
// RMSNorm; one single-file and one sharded checkpoint): built from config.json, loaded from
// safetensors at TP = 1 and TP = 2 (two processes, each reading only its slices), fp32 logits and
// losses within 1e-4 of what Transformers computed.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectAllOk, runWorld } from '../../collectives/test/spawn.ts';
import { gptFromHf } from '../src/hf/pretrained.ts';
import { compareWithTransformers, HF_FIXTURES, HF_MODELS, hfFixturesPresent, MISSING_FIXTURES_REASON, type ParityResult } from './hf-fixtures.ts';

const WORKER = join(import.meta.dirname, 'hf-worker.ts');
const TOLERANCE = 1e-4;

function expectParity(r: ParityResult): void {
  expect(r.logits).toBeLessThan(TOLERANCE);
  expect(r.perToken).toBeLessThan(TOLERANCE);
  expect(r.loss).toBeLessThan(TOLERANCE);
}

describe.skipIf(!hfFixturesPresent())(`Transformers parity (${hfFixturesPresent() ? 'fixtures present' : MISSING_FIXTURES_REASON})`, () => {
  it.each(HF_MODELS)('%s at TP=1: logits and loss within 1e-4', (name) => {
    const dir = join(HF_FIXTURES, name);
    const { model, report, ignoredKeys } = gptFromHf(dir, { overrides: { hiddenDropout: 0, attentionDropout: 0 } });
    model.eval();
    expect(ignoredKeys).toEqual([]);
    expect(report.skipped).toEqual([]);
    expectParity(compareWithTransformers(model, dir));
    model.dispose();
  });

  it.for(HF_MODELS)('%s at TP=2 (two processes): logits and loss within 1e-4, each rank reading part of the file', { timeout: 180_000 }, async (name, ctx) => {
    const outcomes = await runWorld(2, 'hf-parity', { script: WORKER, args: [join(HF_FIXTURES, name)], timeoutMs: 120_000 });
    expectAllOk(outcomes);
    const reports = outcomes.map((o) => o.report as ParityResult & { bytesRead: number; byteLength: number; unavailable?: string });
    const unavailable = reports.find((r) => r?.unavailable)?.unavailable;
    if (unavailable) ctx.skip(`multi-process cpu backend unavailable: ${unavailable}`);
    for (const r of reports) {
      expectParity(r);
      // Embeddings, QKV, MLP and output weights are split in two; only norms, biases and positions are whole.
      expect(r.bytesRead / r.byteLength).toBeLessThan(0.6);
    }
  });
});
