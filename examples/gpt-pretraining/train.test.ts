// The README's main job end to end: a short single-process run and a tensor-parallel run through
// the launcher both train (the loss falls) and log the epoch line; a two-stage pipeline under the
// launcher gives one process's losses on the same micro-batches, and so does gradient
// accumulation; bad flags get clear errors.
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

/** The per-step losses of the progress lines (not the epoch summary). */
function stepLosses(out: string): number[] {
  return [...out.matchAll(/epoch \d+ \[[#.]+\] \d+\/\d+ loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
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

  it('runs a 2-stage pipeline (1F1B over 4 micro-batches) under tessera launch with one process\'s losses', () => {
    const common = ['--max_train_steps', '4', '--max_eval_batches', '1', '--per_device_train_batch_size', '2', '--per_device_eval_batch_size', '2'];
    const pp = run([launcher, 'launch', '--num_processes', '2', '--cpu', join(here, 'train.ts'), '--pipeline_parallel_size', '2', '--num_micro_batches', '4', ...common]);
    expect(pp.status, pp.stderr + pp.stdout).toBe(0);
    expect(pp.stdout).toMatch(/\[rank 1\] gpt2-tiny: .* TP 1 x DP 1 x PP 2; .* 4 steps of 8 blocks \(4 micro-batches x 1 accumulation steps of 2 per rank\)/);
    const ppEval = /\[rank 1\] epoch 0: perplexity: [\d.]+ eval_loss: ([\d.]+)/.exec(pp.stdout)?.[1];
    // The same 8 blocks per step on one process: 4 micro-batches without pipelining, and 2 x 2 accumulated.
    const one = run([join(here, 'train.ts'), '--num_micro_batches', '4', ...common]);
    const accumulated = run([join(here, 'train.ts'), '--num_micro_batches', '2', '--gradient_accumulation_steps', '2', ...common]);
    const ref = stepLosses(one.stderr);
    expect(ref).toHaveLength(4);
    // Accumulation draws dropout masks in the same order: the same losses to the printed digit.
    expect(stepLosses(accumulated.stderr)).toEqual(ref);
    // Each stage draws its own dropout masks (gpt2-tiny trains with dropout 0.1), so the pipeline
    // is close, not equal; without dropout it is equal (packages/pipeline's parity tests).
    const piped = stepLosses(pp.stdout + pp.stderr);
    expect(piped).toHaveLength(4);
    piped.forEach((l, i) => {
      expect(Math.abs(l - (ref[i] as number))).toBeLessThan(0.05);
    });
    expect(Math.abs(Number(ppEval) - Number(/eval_loss: ([\d.]+)/.exec(one.stdout)?.[1]))).toBeLessThan(0.05);
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
    const pp = run([join(here, 'train.ts'), '--pipeline_parallel_size', '2']);
    expect(pp.status).toBe(2);
    expect(pp.stderr).toMatch(/--pipeline_parallel_size 2 needs that many processes/);
    const interleaved = run([join(here, 'train.ts'), '--virtual_pipeline_size', '2']);
    expect(interleaved.status).toBe(2);
    expect(interleaved.stderr).toMatch(/a virtual pipeline size of 2 needs a pipeline size of at least 2, got 1/);
  });
});
