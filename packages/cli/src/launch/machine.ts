// What the launcher needs to know about this machine, without loading the native addon: how many
// GPUs are visible, how many cores, and a free TCP port.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

/** GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else `nvidia-smi -L`, else 0. */
export function visibleGpuCount(env: NodeJS.ProcessEnv = process.env): number {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const ids = visible.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '-1');
    return ids.length;
  }
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || typeof r.stdout !== 'string') return 0;
  return r.stdout.split('\n').filter((l) => l.startsWith('GPU ')).length;
}

export function cpuCount(): number {
  return os.availableParallelism();
}

/** A port that was free a moment ago (the store reports it clearly should someone take it meanwhile). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
