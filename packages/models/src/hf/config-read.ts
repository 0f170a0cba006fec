// Reading typed values out of a Transformers config.json, refusing anything the Tessera GPT
// family cannot express with a message naming the key, its value and why.

export class HfConfigError extends Error {
  readonly key: string;
  readonly value: unknown;
  readonly reason: string;
  constructor(key: string, value: unknown, reason: string) {
    super(`config.json: ${key} = ${JSON.stringify(value)} cannot be loaded: ${reason}`);
    this.name = 'HfConfigError';
    this.key = key;
    this.value = value;
    this.reason = reason;
  }
}

export type HfJson = Readonly<Record<string, unknown>>;

/** Tracks which keys were read, so the ones nothing looked at can be reported. */
export class ConfigReader {
  readonly #json: HfJson;
  readonly #seen = new Set<string>();
  constructor(json: HfJson) {
    this.#json = json;
  }

  raw(key: string): unknown {
    this.#seen.add(key);
    return this.#json[key];
  }

  /** Marks keys as understood without using them (they do not change the model's math). */
  accept(...keys: string[]): void {
    for (const k of keys) this.#seen.add(k);
  }

  /** Keys present in the file that nothing read or accepted. */
  unread(): string[] {
    return Object.keys(this.#json).filter((k) => !this.#seen.has(k));
  }

  int(key: string, fallback?: number, min = 1): number {
    const v = this.raw(key) ?? fallback;
    if (v === undefined) throw new HfConfigError(key, v, 'the key is required');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new HfConfigError(key, v, `expected an integer >= ${min}`);
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HfConfigError(key, v, v === undefined ? 'the key is required' : 'expected a number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'boolean') throw new HfConfigError(key, v, 'expected true or false');
    return v;
  }

  /** Refuses the key unless it is absent or has one of the given values. */
  require(key: string, allowed: readonly unknown[], reason: string): void {
    const v = this.raw(key);
    if (v !== undefined && !allowed.includes(v)) throw new HfConfigError(key, v, reason);
  }
}

/** Probabilities must be in [0, 1). */
export function dropout(r: ConfigReader, key: string, fallback: number): number {
  const p = r.num(key, fallback);
  if (p < 0 || p >= 1) throw new HfConfigError(key, p, 'a dropout probability must be in [0, 1)');
  return p;
}
