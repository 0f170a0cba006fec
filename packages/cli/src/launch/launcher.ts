// The launcher: starts this machine's ranks as child processes running the script under the same
// Node and flags as the launcher (process.execArgv, e.g. --conditions=@tessera/source), prefixes
// their output, forwards Ctrl-C / SIGTERM / SIGHUP, and when one rank fails stops the others and
// exits non-zero naming it. GPUs: every GPU stays visible to every rank (CUDA_VISIBLE_DEVICES is
// left alone, so NCCL sees the whole machine); local rank i uses cuda:i through LOCAL_RANK.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { type LaunchArgs, UsageError } from './args.ts';
import { LinePrefixer } from './lines.ts';
import { cpuCount, freePort, visibleGpuCount } from './machine.ts';
import { rankEnv } from './rank-env.ts';

export interface LaunchIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: LaunchIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** How long stopped ranks get to exit after SIGTERM/SIGINT before SIGKILL. */
const GRACE_MS = 5000;
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Rank {
  rank: number;
  local: number;
  child: ChildProcess;
  done: boolean;
}

function signalCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** Runs the job's local ranks to the end; resolves with the launcher's exit code. */
export async function launch(args: LaunchArgs, io: LaunchIO = processIO): Promise<number> {
  const script = resolve(args.script);
  if (!existsSync(script)) throw new UsageError(`script '${args.script}' not found (looked at ${script})`);
  const local = args.numProcesses / args.numMachines;
  const gpus = args.cpu ? 0 : visibleGpuCount();
  if (gpus > 0 && local > gpus) {
    throw new UsageError(
      `${local} processes on this machine but ${gpus} GPU(s) visible: each rank needs its own GPU (use fewer processes, or --cpu)`,
    );
  }
  const masterPort = args.mainProcessPort ?? (await freePort());
  const layout = { localProcesses: local, masterPort, cores: cpuCount(), gpus };
  const note = (text: string) => io.stderr(`tessera launch: ${text}\n`);
  // A closed pipe downstream (`tessera launch ... | head`) must not take the launcher down while
  // ranks still run; their output is simply dropped.
  for (const s of [process.stdout, process.stderr]) if (s.listenerCount('error') === 0) s.on('error', () => {});

  return new Promise<number>((resolveExit) => {
    const ranks: Rank[] = [];
    let failure: { rank: Rank; code: number | null; signal: NodeJS.Signals | null } | undefined;
    let interrupted: NodeJS.Signals | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const alive = () => ranks.filter((r) => !r.done);
    const stopAll = (signal: NodeJS.Signals) => {
      for (const r of alive()) r.child.kill(signal);
      killTimer ??= setTimeout(() => {
        for (const r of alive()) r.child.kill('SIGKILL');
      }, GRACE_MS);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted === 'SIGINT' && signal === 'SIGINT') {
        note('second Ctrl-C: killing the ranks');
        for (const r of alive()) r.child.kill('SIGKILL');
        return;
      }
      interrupted ??= signal;
      note(`received ${signal}; passing it on to the ranks`);
      stopAll(signal);
    };
    const handlers = FORWARDED.map((s) => [s, () => onSignal(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);

    const finish = () => {
      if (alive().length > 0) return;
      clearTimeout(killTimer);
      for (const [s, h] of handlers) process.off(s, h);
      if (failure) {
        const { rank, code, signal } = failure;
        note(`rank ${rank.rank} (local rank ${rank.local}) failed: it ${describeExit(code, signal)}`);
        resolveExit(code ?? signalCode(signal as NodeJS.Signals));
      } else {
        resolveExit(interrupted ? signalCode(interrupted) : 0);
      }
    };

    for (let i = 0; i < local; i++) {
      const env = rankEnv(args, layout, i, process.env);
      const child = spawn(process.execPath, [...process.execArgv, script, ...args.scriptArgs], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r: Rank = { rank: Number(env.RANK), local: i, child, done: false };
      ranks.push(r);
      const out = new LinePrefixer(`[rank ${r.rank}] `, io.stdout);
      const err = new LinePrefixer(`[rank ${r.rank}] `, io.stderr);
      child.stdout?.on('data', (d: Buffer) => out.push(d));
      child.stderr?.on('data', (d: Buffer) => err.push(d));
      const exited = (code: number | null, signal: NodeJS.Signals | null) => {
        if (r.done) return;
        r.done = true;
        out.flush();
        err.flush();
        const failed = code !== 0;
        if (failed && !failure && !interrupted) {
          failure = { rank: r, code, signal };
          if (alive().length > 0) {
            note(`rank ${r.rank} ${describeExit(code, signal)}; stopping the other ranks`);
            stopAll('SIGTERM');
          }
        }
        finish();
      };
      child.on('close', exited);
      child.on('error', (e) => {
        err.push(`could not start: ${e.message}\n`);
        exited(127, null);
      });
    }
  });
}
