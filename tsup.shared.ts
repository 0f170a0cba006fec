// The build every package shares: ESM only, type declarations, source maps, Node 24. A package
// with more entry points passes them.
import { defineConfig, type Options } from 'tsup';

export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    platform: 'node',
    target: 'node24',
    ...overrides,
  });
}
