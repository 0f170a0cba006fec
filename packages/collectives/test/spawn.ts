// Starts a job of worker processes on the cpu backend (test/worker.ts by default), the way a
// launcher would, and collects each rank's exit status, output and JSON report.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface RankOutcome {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** What the rank wrote with report(), if anything. */
  report: unknown;
}

export interface WorldOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Extra variables per rank. */
  rankEnv?: (rank: number) => Record<string, string>;
  /** Kill everything after this long (default 60 s). */
  timeoutMs?: number;
  script?: string;
  /** Start only these ranks (default: all). */
  only?: number[];
  /** MASTER_PORT (default: a free port). */
  port?: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function runWorld(size: number, scenario: string, o: WorldOptions = {}): Promise<RankOutcome[]> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tessera-test-'));
  const port = o.port ?? (await freePort());
  const children: ChildProcess[] = [];
  const outcomes = (o.only ?? Array.from({ length: size }, (_, r) => r)).map((rank, index) =>
    new Promise<RankOutcome>((resolve) => {
      const child = spawn(process.execPath, ['--conditions=@tessera/source', o.script ?? WORKER, scenario, ...(o.args ?? [])], {
        env: {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(size),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(size),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          TESSERA_BACKEND: 'cpu',
          TESSERA_NUM_THREADS: '1',
          TESSERA_TEST_OUT: dir,
          TESSERA_TEST_ID: String(index),
          ...o.env,
          ...o.rankEnv?.(rank),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (d) => (output += d));
      child.stderr?.on('data', (d) => (output += d));
      child.on('close', (code, signal) => {
        let report: unknown;
        try {
          report = JSON.parse(readFileSync(join(dir, `report-${index}.json`), 'utf8'));
        } catch {
          report = undefined;
        }
        resolve({ rank, code, signal, output, report });
      });
    }),
  );
  const timer = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
  }, o.timeoutMs ?? 60_000);
  try {
    return await Promise.all(outcomes);
  } finally {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws with every rank's output unless all ranks exited with 0. */
export function expectAllOk(outcomes: RankOutcome[]): void {
  const bad = outcomes.filter((o) => o.code !== 0);
  if (bad.length > 0) {
    throw new Error(bad.map((o) => `rank ${o.rank} exited with ${o.code ?? o.signal}:\n${o.output}`).join('\n'));
  }
}
