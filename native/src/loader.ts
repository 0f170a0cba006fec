// Finds and loads the native addon. Order: TESSERA_NATIVE_BINARY (a .node path), else
// TESSERA_NATIVE_VARIANT (cpu or cuda), else the CUDA build when it loads, else the CPU build.
// When nothing loads, the error lists every path tried, why each failed, and how to build.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBinding } from './binding.ts';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export const VARIANTS = ['cuda', 'cpu'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface LoadAttempt {
  path: string;
  error: string;
}

export class NativeBindingNotFoundError extends Error {
  readonly attempts: LoadAttempt[];
  constructor(attempts: LoadAttempt[]) {
    const lines = attempts.map((a) => `  - ${a.path}: ${a.error}`).join('\n');
    super(
      `@tessera/native: no usable native addon was found. Tried:\n${lines}\n` +
        'Build it with `pnpm build:native` from the repository root (or `node native/scripts/build.ts`; ' +
        'add --cuda=ON --arch=90a on a CUDA machine), or point TESSERA_NATIVE_BINARY at a built .node file.',
    );
    this.name = 'NativeBindingNotFoundError';
    this.attempts = attempts;
  }
}

export interface LoadedNative {
  binding: NativeBinding;
  path: string;
  variant: Variant;
}

function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
}

export function binaryPath(variant: Variant): string {
  return join(packageRoot, 'build', variant, 'tessera_native.node');
}

function tryLoad(path: string, attempts: LoadAttempt[]): NativeBinding | undefined {
  if (!existsSync(path)) {
    attempts.push({ path, error: 'not built' });
    return undefined;
  }
  const metaPath = join(dirname(path), 'build-meta.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { version?: string };
    const expected = packageVersion();
    if (meta.version !== expected) {
      attempts.push({ path, error: `built for version ${meta.version}, but the package is ${expected}; rebuild it` });
      return undefined;
    }
  }
  try {
    return require(path) as NativeBinding;
  } catch (err) {
    attempts.push({ path, error: (err as Error).message.split('\n')[0] ?? String(err) });
    return undefined;
  }
}

let loaded: LoadedNative | undefined;

export function loadNative(): LoadedNative {
  if (loaded) return loaded;
  const attempts: LoadAttempt[] = [];
  const explicit = process.env.TESSERA_NATIVE_BINARY;
  if (explicit) {
    const binding = tryLoad(resolve(explicit), attempts);
    if (!binding) throw new NativeBindingNotFoundError(attempts);
    loaded = { binding, path: resolve(explicit), variant: binding.buildInfo().variant };
    return loaded;
  }
  const wanted = process.env.TESSERA_NATIVE_VARIANT;
  if (wanted !== undefined && !(VARIANTS as readonly string[]).includes(wanted)) {
    throw new Error(`TESSERA_NATIVE_VARIANT must be one of ${VARIANTS.join(', ')}, got '${wanted}'`);
  }
  const order: Variant[] = wanted ? [wanted as Variant] : [...VARIANTS];
  for (const variant of order) {
    const path = binaryPath(variant);
    const binding = tryLoad(path, attempts);
    if (binding) {
      loaded = { binding, path, variant };
      return loaded;
    }
  }
  throw new NativeBindingNotFoundError(attempts);
}
