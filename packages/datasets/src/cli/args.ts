// A small argparse-like reader for Megatron-style flags (`--flag value`, `--flag=value`,
// `--list a b c`, boolean switches), with errors that name the flag.

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  required?: boolean;
  help: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseFlags(argv: string[], specs: Record<string, FlagSpec>): Record<string, string | number | boolean | string[] | undefined> {
  const out: Record<string, string | number | boolean | string[] | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (spec.type === 'boolean') {
      out[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    if (spec.type === 'list') {
      const values: string[] = inline !== undefined ? [inline] : [];
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values.push(argv[++i]!);
      if (values.length === 0) throw new UsageError(`--${name} needs at least one value`);
      out[name] = values;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (spec.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
      out[name] = n;
    } else out[name] = value;
  }
  for (const [name, spec] of Object.entries(specs)) if (spec.required && out[name] === undefined) throw new UsageError(`the flag --${name} is required`);
  return out;
}

export function usage(command: string, specs: Record<string, FlagSpec>): string {
  const lines = Object.entries(specs).map(([n, s]) => `  --${n}${s.type === 'boolean' ? '' : s.type === 'list' ? ' V [V ...]' : ' V'}${s.required ? ' (required)' : ''}\n      ${s.help}`);
  return `usage: ${command} [flags]\n${lines.join('\n')}`;
}
