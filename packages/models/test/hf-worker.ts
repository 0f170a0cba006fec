// One rank of the tensor-parallel parity run (started by hf-parity.test.ts through the collectives
// package's spawn.ts): builds the model at TP = WORLD_SIZE from a fixture checkpoint, reading only
// this rank's slices, and reports how far its outputs are from Transformers'.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistributedError, initDistributed, ParallelState } from '@tessera/collectives';
import { tensorParallel } from '@tessera/tensor-parallel';
import { gptFromHf } from '../src/hf/pretrained.ts';
import { compareWithTransformers } from './hf-fixtures.ts';

function report(value: unknown): void {
  writeFileSync(join(process.env.TESSERA_TEST_OUT as string, `report-${process.env.TESSERA_TEST_ID}.json`), JSON.stringify(value));
}

const dir = process.argv[3] as string;
let dist: Awaited<ReturnType<typeof initDistributed>>;
try {
  dist = await initDistributed();
} catch (e) {
  // The synchronous cpu backend is not built into this addon yet: say so instead of failing.
  if (e instanceof DistributedError && e.code === 'CONFIG') {
    report({ unavailable: e.message });
    process.exit(0);
  }
  throw e;
}
const state = await ParallelState.create(dist, { tensor: dist.world.size, pipeline: 1, data: 1 });
const tp = tensorParallel(state);
const { model, report: load } = gptFromHf(dir, { tp, parallelOutput: false, overrides: { hiddenDropout: 0, attentionDropout: 0 } });
model.eval();
report({ ...compareWithTransformers(model, dir), bytesRead: load.bytesRead, byteLength: load.byteLength, rank: tp.rank });
await dist.world.barrier();
await dist.destroy();
