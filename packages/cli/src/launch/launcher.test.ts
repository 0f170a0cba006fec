// `tessera launch` as a user runs it: the bin in a child process, starting real ranks.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function tessera(args: string[], opts: { onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=@tessera/source', BIN, ...args], {
      env: { ...process.env, TESSERA_NUM_THREADS: undefined, FORCE_COLOR: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - start }));
  });
}

describe('tessera launch', () => {
  it('gives each rank its variables and flags, and prefixes every line', async () => {
    const r = await tessera(['launch', '--num_processes', '3', '--cpu', fixture('env.ts'), '--x', '1']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const reports = lines.filter((l) => l.includes('{')).map((l) => {
      const m = /^\[rank (\d)\] (.*)$/.exec(l) as RegExpExecArray;
      return { prefix: Number(m[1]), ...JSON.parse(m[2] as string) };
    });
    expect(reports.map((x) => x.prefix).sort()).toEqual([0, 1, 2]);
    const port = reports[0].env.MASTER_PORT;
    for (const x of reports) {
      expect(x.env).toEqual({
        RANK: String(x.prefix), WORLD_SIZE: '3', LOCAL_RANK: String(x.prefix), LOCAL_WORLD_SIZE: '3', NODE_RANK: '0',
        MASTER_ADDR: '127.0.0.1', MASTER_PORT: port, TESSERA_BACKEND: 'cpu', TESSERA_NUM_THREADS: expect.stringMatching(/^\d+$/),
      });
      expect(x.execArgv).toContain('--conditions=@tessera/source');
      expect(x.args).toEqual(['--x', '1']);
    }
    for (const rank of [0, 1, 2]) {
      expect(lines).toContain(`[rank ${rank}] no newline at the end`);
      expect(r.stderr).toContain(`[rank ${rank}] stderr of rank ${rank}`);
    }
  }, 30_000);

  it('stops every rank when one fails, and exits with its code, naming it, within 10 s', async () => {
    const r = await tessera(['launch', '--num_processes', '3', '--cpu', fixture('fail.ts')]);
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toContain('rank 1 exited with code 3; stopping the other ranks');
    expect(r.stderr).toContain('rank 1 (local rank 1) failed: it exited with code 3');
  }, 30_000);

  it('passes SIGTERM on to the ranks', async () => {
    let sent = false;
    const r = await tessera(['launch', '--num_processes', '2', '--cpu', fixture('signal.ts')], {
      onStdout: (text, child) => {
        if (!sent && (text.match(/ready/g) ?? []).length === 2) {
          sent = true;
          // The launcher is the inner process when the bin re-runs itself; SIGTERM goes through either way.
          child.kill('SIGTERM');
        }
      },
    });
    expect(r.stdout).toContain('[rank 0] got SIGTERM');
    expect(r.stdout).toContain('[rank 1] got SIGTERM');
    expect(r.code).toBe(143);
  }, 30_000);

  it('runs a real cpu job end to end', async () => {
    const r = await tessera(['launch', '--num_processes', '2', '--cpu', fixture('allreduce.ts')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[rank 0] backend cpu: 1 2');
    expect(r.stdout).toContain('[rank 1] backend cpu: 1 2');
  }, 30_000);

  it('rejects bad flags and missing scripts clearly', async () => {
    const bad = await tessera(['launch', '--num_procs', '2', 'x.ts']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("tessera launch: unknown option '--num_procs'");
    const missing = await tessera(['launch', '--cpu', 'no-such-script.ts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/script 'no-such-script.ts' not found/);
  }, 30_000);
});

describe('tessera', () => {
  it('lists its commands and rejects unknown ones', async () => {
    expect((await tessera(['--help'])).stdout).toMatch(/launch\s+start a multi-process job/);
    const r = await tessera(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  }, 30_000);

  it('runs the datasets preprocessor', async () => {
    const r = await tessera(['preprocess', '--help']);
    expect(r.stderr).not.toContain('not available yet');
    expect(r.stdout + r.stderr).toMatch(/preprocess|input/i);
  }, 30_000);
});
