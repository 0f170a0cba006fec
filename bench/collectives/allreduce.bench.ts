// All-reduce bandwidth of the cpu backend: f32 tensors of 1 to 64 MB, at 2 and 4 ranks on this
// machine, over Unix-domain sockets (the default between ranks of one host) and over TCP.
// Algorithm bandwidth = bytes / time; bus bandwidth = algbw * 2(n-1)/n, what each rank's links
// carry in a ring (the convention of nccl-tests). Prints a table and writes JSON to
// $OUT/collectives-allreduce.json (or bench/results/).
//
//   node --conditions=@tessera/source bench/collectives/allreduce.bench.ts [--ranks=2,4] [--transport=unix,tcp]
//
// Each configuration is a job of child processes running this file (BENCH_RANK_WORKER=1): rank 0
// times each all-reduce from call to wait() after a barrier, and reports the median.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../packages/cli/src/launch/machine.ts';

const SIZES_MB = [1, 2, 4, 8, 16, 32, 64];

interface Row {
  ranks: number;
  transport: string;
  mb: number;
  ms: number;
  algbwGBs: number;
  busbwGBs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function worker(): Promise<void> {
  const { initDistributed } = await import('../../packages/collectives/src/index.ts');
  const { zeros } = await import('../../packages/core/src/index.ts');
  const dist = await initDistributed({ backend: 'cpu' });
  const rows: Array<{ mb: number; ms: number }> = [];
  for (const mb of SIZES_MB) {
    const t = zeros([(mb * 2 ** 20) / 4]);
    const reps = mb <= 8 ? 10 : 5;
    const times: number[] = [];
    for (let i = 0; i < reps + 2; i++) {
      await dist.world.barrier();
      const start = performance.now();
      await dist.world.allReduce(t).wait();
      if (i >= 2) times.push(performance.now() - start);
    }
    rows.push({ mb, ms: median(times) });
    t.dispose();
  }
  if (dist.rank === 0) process.stdout.write(`${JSON.stringify(rows)}\n`);
  await dist.world.barrier();
  await dist.destroy();
}

async function job(ranks: number, transport: string): Promise<Row[]> {
  const port = await freePort();
  const threads = String(Math.max(1, Math.floor(os.availableParallelism() / ranks)));
  const outputs = await Promise.all(
    Array.from({ length: ranks }, (_, rank) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
          env: {
            ...process.env,
            BENCH_RANK_WORKER: '1',
            RANK: String(rank),
            WORLD_SIZE: String(ranks),
            LOCAL_RANK: String(rank),
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            TESSERA_NUM_THREADS: threads,
            TESSERA_CPU_TRANSPORT: transport,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited with ${code}`))));
      }),
    ),
  );
  const measured = JSON.parse((outputs[0] as string).trim()) as Array<{ mb: number; ms: number }>;
  return measured.map(({ mb, ms }) => {
    const algbw = (mb * 2 ** 20) / (ms / 1000) / 1e9;
    return { ranks, transport, mb, ms, algbwGBs: algbw, busbwGBs: (algbw * 2 * (ranks - 1)) / ranks };
  });
}

async function main(): Promise<void> {
  const flag = (name: string, fallback: string) =>
    (process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback).split(',');
  const rankCounts = flag('ranks', '2,4').map(Number);
  const transports = flag('transport', 'unix,tcp');
  const rows: Row[] = [];
  for (const transport of transports) for (const ranks of rankCounts) rows.push(...(await job(ranks, transport)));

  console.log(`cpu backend all-reduce (f32), ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log('ranks  transport   size     time      algbw      busbw');
  for (const r of rows) {
    console.log(
      `${String(r.ranks).padStart(5)}  ${r.transport.padEnd(9)} ${`${r.mb} MB`.padStart(6)} ${`${r.ms.toFixed(1)} ms`.padStart(10)} ` +
        `${`${r.algbwGBs.toFixed(2)} GB/s`.padStart(10)} ${`${r.busbwGBs.toFixed(2)} GB/s`.padStart(10)}`,
    );
  }
  const outDir = process.env.OUT ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'collectives-allreduce.json');
  const machine = { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version };
  writeFileSync(file, `${JSON.stringify({ benchmark: 'cpu backend all-reduce', machine, rows }, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

if (process.env.BENCH_RANK_WORKER) await worker();
else await main();
