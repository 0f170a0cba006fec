// One vitest run over every package (each package's own vitest.config.ts defines its project).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['native', 'packages/*', 'examples/*'],
  },
});
