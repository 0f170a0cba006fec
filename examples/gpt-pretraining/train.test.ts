// The README's main job end to end: a short single-process run and a tensor-parallel run through
// the launcher both train (the loss falls) and log the epoch line; bad flags get clear errors.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const launcher = join(here, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');

function run(args: string[]) {
  return spawnSync(process.execPath, ['--conditions=@tessera/source', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TESSERA_NUM_THREADS: '1' },
    timeout: 240_000,
  });
}

function losses(out: string): number[] {
  return [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
}

describe('gpt-pretraining example', () => {
  it('trains a tiny GPT on WikiText-2 on the CPU and reports perplexity', () => {
    const r = run([join(here, 'train.ts'), '--device', 'cpu', '--max_train_steps', '12', '--max_eval_batches', '2', '--per_device_train_batch_size', '4']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gpt2-tiny: 3\.3M parameters, f32 on cpu, TP 1 x DP 1/);
    expect(r.stdout).toMatch(/epoch 0: perplexity: [\d.]+ eval_loss: [\d.]+/);
    const seen = losses(r.stderr);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBeLessThan((seen[0] as number) - 0.2);
  });

  it('runs tensor-parallel with sequence parallelism under tessera launch', () => {
    const r = run([launcher, 'launch', '--num_processes', '2', '--cpu', join(here, 'train.ts'), '--tensor_parallel_size', '2', '--sequence_parallel', '--max_train_steps', '4', '--max_eval_batches', '1', '--per_device_train_batch_size', '4']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\[rank 1\] gpt2-tiny: .* TP 2 x DP 1 with sequence parallelism/);
    expect(r.stdout).toMatch(/\[rank 1\] epoch 0: perplexity: [\d.]+ eval_loss: [\d.]+/);
  });

  it('rejects bad flags with a clear message', () => {
    const bad = run([join(here, 'train.ts'), '--max_train_steps', 'many']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--max_train_steps must be an integer >= 1, got 'many'/);
    const tp = run([join(here, 'train.ts'), '--tensor_parallel_size', '2']);
    expect(tp.status).toBe(2);
    expect(tp.stderr).toMatch(/needs that many processes: run it under `tessera launch --num_processes N`/);
    const model = run([join(here, 'train.ts'), '--model', 'gpt5']);
    expect(model.stderr).toMatch(/--model must be one of/);
  });
});
