import { packageBuild } from '../../tsup.shared.ts';

// The preprocess worker is its own entry: worker_threads loads it by file name at run time.
export default packageBuild({
  entry: ['src/index.ts', 'src/cli/preprocess.ts', 'src/preprocess/worker.ts'],
  dts: { entry: 'src/index.ts' },
});
