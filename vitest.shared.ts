// Shared vitest settings: tests read package sources through the "@tessera/source" export
// condition (no build needed), run in forked processes (the native addon keeps per-process
// state), and skip the GPU suites (*.gpu.test.ts run under `test:gpu` on a CUDA machine).
import { defineConfig } from 'vitest/config';

export function packageTestConfig(name: string) {
  return defineConfig({
    resolve: { conditions: ['@tessera/source'] },
    ssr: { resolve: { conditions: ['@tessera/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts', '*.test.ts'],
      exclude: ['**/*.gpu.test.ts', '**/node_modules/**'],
      pool: 'forks',
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  });
}
