// The README's main job, end to end: a short run must train (loss falls) and exit cleanly.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

function train(...args: string[]) {
  return spawnSync(process.execPath, ['--conditions=@tessera/source', join(here, 'train.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TESSERA_NUM_THREADS: '1' },
  });
}

describe('tiny-transformer example', () => {
  it('trains on the CPU and reports its result', () => {
    const r = train('--steps', '60', '--device', 'cpu', '--hidden', '32');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/step +50\/60 +loss/);
    const m = /loss ([\d.]+) -> ([\d.]+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m?.[2])).toBeLessThan(Number(m?.[1]) * 0.6);
  });

  it('rejects bad flags with a clear message', () => {
    const r = train('--steps', 'ten');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--steps must be a positive integer, got 'ten'/);
    const u = train('--nonsense');
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/Unknown option '--nonsense'/);
  });
});
