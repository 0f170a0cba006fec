// Pipeline bubble of the 1F1B and interleaved 1F1B schedules, measured on CPU processes against
// Megatron's formulas: bubble / ideal time = (p - 1)/m for 1F1B and (p - 1)/(v m) interleaved.
// Every stage does the same, known work per micro-batch: a forward of 10 ms and a backward of
// 20 ms (split evenly over a rank's v chunks), modelled as a thread that sleeps, so that four
// stages on a two-core machine do not compete for cores and the measurement is the schedule's,
// not the CPU's. Activations are small ([8, 1, 64] f32) and go through the real cpu backend p2p.
//
//   node --conditions=@tessera/source bench/pipeline/bubble.bench.ts [--stages=2,4] [--micro-batches=4,8,16,32] [--reps=3]
//
// Each (p, schedule) is a job of p child processes running this file (BENCH_RANK_WORKER=1). Per
// run: a barrier, then every rank times its schedule call (wall clock, comparable across processes)
// and sums the durations of its forward and backward steps. Bubble = (the pipeline's makespan from
// the first start to the last end) / (a rank's compute time) - 1, the median over the repetitions.
// Prints a table and writes JSON to $OUT/pipeline-bubble.json (or bench/results/).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../packages/cli/src/launch/machine.ts';
import type { Tensor } from '../../packages/core/src/index.ts';

const FORWARD_MS = 10;
const BACKWARD_MS = 20;
const SHAPE = [8, 1, 64];

interface Job {
  p: number;
  v: number;
  microBatches: number[];
  reps: number;
}

interface RankRun {
  m: number;
  rep: number;
  start: number;
  end: number;
  busy: number;
}

interface Row {
  schedule: string;
  p: number;
  v: number;
  m: number;
  makespanMs: number;
  computeMs: number;
  bubble: number;
  ideal: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Holds the thread for ms without using a core: the stage's "compute". */
function busyFor(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

async function worker(job: Job): Promise<void> {
  const { initDistributed, ParallelState } = await import('../../packages/collectives/src/index.ts');
  const core = await import('../../packages/core/src/index.ts');
  const { getForwardBackwardFunc } = await import('../../packages/pipeline/src/index.ts');
  const dist = await initDistributed({ backend: 'cpu' });
  const ps = await ParallelState.create(dist, { pipeline: job.p, virtualPipeline: job.v > 1 ? job.v : undefined });
  // One chunk: out = x + w, whose forward and backward take the chunk's share of the stage's time.
  const timed = core.defineFunction({
    name: 'timedStage',
    forward: (_ctx, x: Tensor, w: Tensor) => {
      busyFor(FORWARD_MS / job.v);
      return x.add(w);
    },
    backward: (_ctx, g: Tensor) => {
      busyFor(BACKWARD_MS / job.v);
      return [g.clone(), g.clone()];
    },
  });
  class Chunk extends core.Module {
    w = new core.Parameter(core.zeros(SHAPE));
    input: Tensor | undefined;
    setInputTensor(x: Tensor | undefined): void {
      this.input = x;
    }
  }
  const chunks = Array.from({ length: job.v }, () => new Chunk());
  const config = {
    pipeline: ps.pipeline,
    virtualPipelineSize: job.v,
    tensorShape: SHAPE,
    trace: undefined as undefined | ((e: { type: string; start: number; end: number }) => void),
  };
  const fb = getForwardBackwardFunc(config);
  const runs: RankRun[] = [];
  for (const m of job.microBatches) {
    for (let rep = -1; rep < job.reps; rep++) {
      let busy = 0;
      config.trace = (e) => {
        if (e.type !== 'comm') busy += e.end - e.start;
      };
      await dist.world.barrier();
      const start = performance.timeOrigin + performance.now();
      fb({
        forwardStep: (_data, chunk: Chunk) => ({ output: timed(chunk.input ?? core.zeros(SHAPE), chunk.w), lossFunc: (out) => out.sum() }),
        model: chunks,
        numMicroBatches: m,
        config,
      });
      const end = performance.timeOrigin + performance.now();
      if (rep >= 0) runs.push({ m, rep, start, end, busy });
      for (const c of chunks) c.zeroGrad();
    }
  }
  process.stdout.write(`${JSON.stringify(runs)}\n`);
  ps.destroy();
  await dist.world.barrier();
  await dist.destroy();
}

async function runJob(job: Job): Promise<Row[]> {
  const port = await freePort();
  const outputs = await Promise.all(
    Array.from({ length: job.p }, (_, rank) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
          env: {
            ...process.env,
            BENCH_RANK_WORKER: JSON.stringify(job),
            RANK: String(rank),
            WORLD_SIZE: String(job.p),
            LOCAL_RANK: String(rank),
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            TESSERA_NUM_THREADS: '1',
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited with ${code}`))));
      }),
    ),
  );
  const perRank = outputs.map((o) => JSON.parse(o.trim()) as RankRun[]);
  const rows: Row[] = [];
  for (const m of job.microBatches) {
    const bubbles: number[] = [];
    const makespans: number[] = [];
    const computes: number[] = [];
    for (let rep = 0; rep < job.reps; rep++) {
      const runs = perRank.map((r) => r.find((x) => x.m === m && x.rep === rep) as RankRun);
      const makespan = Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start));
      const compute = runs.reduce((a, r) => a + r.busy, 0) / runs.length;
      makespans.push(makespan);
      computes.push(compute);
      bubbles.push(makespan / compute - 1);
    }
    rows.push({
      schedule: job.v > 1 ? 'interleaved 1F1B' : '1F1B', p: job.p, v: job.v, m,
      makespanMs: median(makespans), computeMs: median(computes), bubble: median(bubbles), ideal: (job.p - 1) / (job.v * m),
    });
  }
  return rows;
}

async function main(): Promise<void> {
  const flag = (name: string, fallback: string) => (process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback).split(',').map(Number);
  const stages = flag('stages', '2,4');
  const microBatches = flag('micro-batches', '4,8,16,32');
  const reps = flag('reps', '3')[0] as number;
  const rows: Row[] = [];
  for (const p of stages) {
    for (const v of [1, 2]) {
      const ok = microBatches.filter((m) => v === 1 || m % p === 0); // interleaved: whole groups of p
      rows.push(...(await runJob({ p, v, microBatches: ok, reps })));
    }
  }
  console.log(`pipeline bubble, forward ${FORWARD_MS} ms + backward ${BACKWARD_MS} ms per stage and micro-batch, ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log('schedule            p  v   m   makespan    compute   bubble   (p-1)/(v m)');
  for (const r of rows) {
    console.log(
      `${r.schedule.padEnd(18)} ${String(r.p).padStart(2)} ${String(r.v).padStart(2)} ${String(r.m).padStart(3)} ${`${r.makespanMs.toFixed(0)} ms`.padStart(10)} ` +
        `${`${r.computeMs.toFixed(0)} ms`.padStart(10)} ${r.bubble.toFixed(3).padStart(8)} ${r.ideal.toFixed(3).padStart(12)}`,
    );
  }
  const outDir = process.env.OUT ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'pipeline-bubble.json');
  const machine = { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version };
  writeFileSync(file, `${JSON.stringify({ benchmark: 'pipeline bubble (cpu backend, sleeping stages)', forwardMs: FORWARD_MS, backwardMs: BACKWARD_MS, machine, rows }, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

if (process.env.BENCH_RANK_WORKER) await worker(JSON.parse(process.env.BENCH_RANK_WORKER) as Job);
else await main();
