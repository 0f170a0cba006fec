import { packageBuild } from '../../tsup.shared.ts';

// The store's worker thread is an entry of its own (src/store/thread.ts loads it beside index.js).
export default packageBuild({ entry: { index: 'src/index.ts', 'store-thread': 'src/store/thread-main.ts' } });
