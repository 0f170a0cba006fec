import { defineConfig } from 'tsup';

// The preprocess worker is its own entry: worker_threads loads it by file name at run time.
export default defineConfig({
  entry: ['src/index.ts', 'src/cli/preprocess.ts', 'src/preprocess/worker.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node24',
});
