// Work handles shared by the backends.
import type { Work } from './types.ts';

/**
 * A Work that is already done: what the cpu backend returns (its operations finish inside the
 * call), and what nccl returns for operations with nothing to do.
 */
export const DONE: Work = Object.freeze({ completed: true, wait: () => Promise.resolve(), waitSync: () => {} });
