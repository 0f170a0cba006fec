// The environment of each local rank: the torchrun variables that initDistributed() reads, and,
// with --cpu, the cpu backend and a share of the cores for each rank's thread pool.
import type { LaunchArgs } from './args.ts';

export interface JobLayout {
  localProcesses: number;
  masterPort: number;
  /** Cores of this machine. */
  cores: number;
  /** GPUs visible on this machine (0: none found). */
  gpus: number;
}

export function rankEnv(args: LaunchArgs, layout: JobLayout, localRank: number, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    RANK: String(args.machineRank * layout.localProcesses + localRank),
    WORLD_SIZE: String(args.numProcesses),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(layout.localProcesses),
    NODE_RANK: String(args.machineRank),
    MASTER_ADDR: args.mainProcessIp,
    MASTER_PORT: String(layout.masterPort),
  };
  if (args.cpu) env.TESSERA_BACKEND = 'cpu';
  // Ranks that compute on the CPU share the cores instead of each starting a pool of all of them.
  if ((args.cpu || layout.gpus === 0) && base.TESSERA_NUM_THREADS === undefined) {
    env.TESSERA_NUM_THREADS = String(Math.max(1, Math.floor(layout.cores / layout.localProcesses)));
  }
  // Child output goes through a pipe; keep colours when the launcher writes to a terminal.
  if (process.stdout.isTTY && base.FORCE_COLOR === undefined && base.NO_COLOR === undefined) env.FORCE_COLOR = '1';
  return env;
}
