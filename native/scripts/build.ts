// Builds the native addon: `node scripts/build.ts [--cuda=AUTO|ON|OFF] [--arch=90a] [--debug] [--jobs=N]`.
// CUDA AUTO builds the CUDA variant when nvcc, the CUDA toolkit and cuBLASLt are all found, and the
// CPU variant otherwise. Uses cmake-js when it is installed; otherwise drives cmake directly with
// the Node-API headers from node-api-headers/node-addon-api (as on a machine without npm packages,
// where they are carried in $DEVICE_DEPS). The result lands in build/<variant>/tessera_native.node.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

interface Options {
  cuda: 'AUTO' | 'ON' | 'OFF';
  arch: string | undefined;
  debug: boolean;
  jobs: number;
}

function fail(message: string): never {
  console.error(`@tessera/native build: ${message}`);
  process.exit(1);
}

function parseOptions(argv: string[]): Options {
  const opts: Options = {
    cuda: (process.env.TESSERA_CUDA ?? 'AUTO').toUpperCase() as Options['cuda'],
    arch: process.env.CMAKE_CUDA_ARCHITECTURES,
    debug: false,
    jobs: Math.max(1, cpus().length),
  };
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2);
    if (key === '--cuda' && value) opts.cuda = value.toUpperCase() as Options['cuda'];
    else if (key === '--arch' && value) opts.arch = value;
    else if (key === '--debug') opts.debug = true;
    else if (key === '--jobs' && value) opts.jobs = Number(value);
    else fail(`unknown option '${arg}'. Usage: node scripts/build.ts [--cuda=AUTO|ON|OFF] [--arch=90a] [--debug] [--jobs=N]`);
  }
  if (!['AUTO', 'ON', 'OFF'].includes(opts.cuda)) fail(`--cuda must be AUTO, ON or OFF, got '${opts.cuda}'`);
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) fail(`--jobs must be a positive integer`);
  return opts;
}

function run(cmd: string, args: string[]): void {
  console.log(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} exited with code ${r.status}`);
}

function tryResolve(id: string): string | undefined {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

// Folders holding node_api.h and napi.h, for builds without cmake-js.
function nodeApiIncludeDirs(): string[] {
  const fromEnv = process.env.TESSERA_NODE_API_DIRS;
  if (fromEnv) return fromEnv.split(':');
  const carried = process.env.DEVICE_DEPS ? join(process.env.DEVICE_DEPS, 'native', 'node_modules') : undefined;
  const candidates = [join(root, 'node_modules'), ...(carried ? [carried] : [])];
  for (const base of candidates) {
    const headers = join(base, 'node-api-headers', 'include');
    const addon = join(base, 'node-addon-api');
    if (existsSync(join(headers, 'node_api.h')) && existsSync(join(addon, 'napi.h'))) return [headers, addon];
  }
  fail(
    'Node-API headers not found: install the packages (pnpm install), or set TESSERA_NODE_API_DIRS to the ' +
      'folders holding node_api.h and napi.h (colon-separated)',
  );
}

const opts = parseOptions(process.argv.slice(2));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const buildDir = join('build', `cmake-${opts.cuda.toLowerCase()}${opts.debug ? '-debug' : ''}`);
const defines: Record<string, string> = {
  TESSERA_CUDA: opts.cuda,
  TESSERA_PACKAGE_VERSION: version,
  CMAKE_BUILD_TYPE: opts.debug ? 'Debug' : 'Release',
};
if (opts.arch) defines.CMAKE_CUDA_ARCHITECTURES = opts.arch;

const cmakeJs = tryResolve('cmake-js/bin/cmake-js');
if (cmakeJs) {
  const cd = Object.entries(defines).map(([k, v]) => `--CD${k}=${v}`);
  run(process.execPath, [cmakeJs, 'compile', '--directory', root, '--out', buildDir, '--parallel', String(opts.jobs), ...cd]);
} else {
  const dirs = nodeApiIncludeDirs();
  const d = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
  const ninja = spawnSync('ninja', ['--version']).status === 0 ? ['-G', 'Ninja'] : [];
  run('cmake', ['-S', '.', '-B', buildDir, ...ninja, `-DNODE_API_INCLUDE_DIRS=${dirs.join(';')}`, ...d]);
  run('cmake', ['--build', buildDir, '--parallel', String(opts.jobs)]);
}

const variantFile = join(root, buildDir, 'tessera-variant.txt');
const variant = existsSync(variantFile) ? readFileSync(variantFile, 'utf8').trim() : 'unknown';
const binary = join(root, 'build', variant, 'tessera_native.node');
if (!existsSync(binary)) fail(`the build finished but ${binary} is missing`);
console.log(`@tessera/native: built the ${variant} variant at ${binary}`);
