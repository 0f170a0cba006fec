#!/usr/bin/env node
// The `tessera` command. Runs the built CLI when the package is built; otherwise its TypeScript
// source (Node >= 24 strips types), re-running itself with --conditions=@tessera/source when that
// flag is missing so that the workspace packages resolve to their sources too (the launcher passes
// the flag on to the ranks).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';

const built = new URL('../dist/main.js', import.meta.url);
const fromSource = !existsSync(built);
if (fromSource && !process.execArgv.some((a) => a.includes('@tessera/source'))) {
  const child = spawn(process.execPath, ['--conditions=@tessera/source', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  // Ctrl-C reaches the whole terminal process group, the inner launcher included; other signals
  // sent to this process only are passed on.
  process.on('SIGINT', () => {});
  for (const s of ['SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? 128 + (os.constants.signals[signal] ?? 0);
  });
} else {
  const { main } = await import(fromSource ? new URL('../src/main.ts', import.meta.url).href : built.href);
  process.exitCode = await main(process.argv.slice(2));
}
