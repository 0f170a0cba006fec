#!/usr/bin/env node
// Runs the built CLI when the package is built, else its TypeScript source (Node >= 24 strips types).
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/preprocess.js', import.meta.url);
const mod = await import(existsSync(built) ? built.href : new URL('../src/cli/preprocess.ts', import.meta.url).href);
process.exitCode = await mod.preprocessMain(process.argv.slice(2));
