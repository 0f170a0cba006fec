// bf16 parity with Transformers on the GPU: the fixture models loaded from safetensors onto CUDA
// in bf16, their logits compared with the logits Transformers computed in bf16 on the GPU (and
// with the fp32 reference). Runs under `node --conditions=@tessera/source --test
// test/hf-parity.gpu.test.ts` on a CUDA machine; skips without CUDA or without the bf16 fixtures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cudaAvailable } from '@tessera/core';
import { gptFromHf } from '../src/hf/pretrained.ts';
import { SafetensorsFile } from '../src/safetensors/file.ts';
import { compareWithTransformers, HF_FIXTURES, HF_MODELS, hfFixturesPresent } from './hf-fixtures.ts';

const bf16Present = hfFixturesPresent() && SafetensorsFile.open(join(HF_FIXTURES, 'gpt2', 'expected.safetensors')).has('logits_bf16');
const skip = !cudaAvailable() ? 'no CUDA device' : !bf16Present ? 'no bf16 fixtures: run tools/fixtures/make_hf_fixtures.py on the GPU machine' : false;

// Transformers' own bf16 logits differ from its fp32 ones by up to ~0.14 (mean ~0.02) on these
// models (logits up to ~11); two bf16 implementations may each be that far off, in different ways.
const MAX_ABS = 0.3;
const LOSS = 0.05;

describe('Transformers parity in bf16 on the GPU', { skip }, () => {
  for (const name of HF_MODELS) {
    it(`${name}: bf16 logits and loss within bf16 tolerance`, () => {
      const dir = join(HF_FIXTURES, name);
      const { model } = gptFromHf(dir, { dtype: 'bf16', device: 'cuda', overrides: { hiddenDropout: 0, attentionDropout: 0 } });
      model.eval();
      const vsBf16 = compareWithTransformers(model, dir, 'logits_bf16');
      const vsFp32 = compareWithTransformers(model, dir, 'logits');
      assert.ok(vsBf16.logits < MAX_ABS, `max |logit - Transformers bf16| = ${vsBf16.logits}`);
      assert.ok(vsFp32.logits < MAX_ABS, `max |logit - Transformers fp32| = ${vsFp32.logits}`);
      assert.ok(vsFp32.loss < LOSS, `|loss - Transformers fp32 loss| = ${vsFp32.loss}`);
      model.dispose();
    });
  }
});
