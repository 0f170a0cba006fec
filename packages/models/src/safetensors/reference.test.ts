// Against files the reference implementation wrote (the Transformers fixtures, saved by
// save_pretrained and safetensors.torch.save_file): every tensor reads back, and re-serializing
// them with the same metadata gives the same bytes, header padding and tensor order included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HF_FIXTURES, hfFixturesPresent, MISSING_FIXTURES_REASON } from '../../test/hf-fixtures.ts';
import { SafetensorsFile } from './file.ts';
import { serializeSafetensors, type TensorBytes } from './writer.ts';

const FILES = ['gpt2/model.safetensors', 'gpt2/expected.safetensors', 'llama/model.safetensors', 'llama-sharded/model-00001-of-00002.safetensors', 'llama-sharded/model-00002-of-00002.safetensors'];

describe.skipIf(!hfFixturesPresent())(`safetensors files written by the reference implementation (${hfFixturesPresent() ? 'present' : MISSING_FIXTURES_REASON})`, () => {
  it.each(FILES)('%s: reads every tensor and writes the identical file back', (file) => {
    const path = join(HF_FIXTURES, file);
    const src = SafetensorsFile.open(path);
    expect(src.names().length).toBeGreaterThan(0);
    const tensors: Record<string, TensorBytes> = {};
    for (const name of src.names()) {
      const raw = src.read(name);
      tensors[name] = { dtype: raw.dtype, shape: raw.shape, data: raw.bytes };
    }
    expect(Buffer.from(serializeSafetensors(tensors, src.metadata)).equals(readFileSync(path))).toBe(true);
  });
});
