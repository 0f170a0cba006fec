// Loads the fixtures that Megatron-Core's own code produced (tools/fixtures/make_datasets_fixtures.py).
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

export function fixturePath(name: string): string {
  return `${FIXTURES}${name}`;
}

/** The parsed gzipped JSON fixture, or undefined (tests then skip, saying how to make it). */
export function loadGzJson<T = any>(name: string): T | undefined {
  const p = fixturePath(name);
  if (!existsSync(p)) {
    console.warn(`skipping: ${p} is missing; make it with tools/fixtures/make_datasets_fixtures.py (see its docstring)`);
    return undefined;
  }
  return JSON.parse(gunzipSync(readFileSync(p)).toString('utf8')) as T;
}
