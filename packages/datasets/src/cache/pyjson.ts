// Python's `json.dumps(obj, indent=4)` byte for byte, so that Megatron's cache descriptions (and
// the MD5 in their file names) come out identical. Python distinguishes ints from floats
// (`1` vs `1.0`); JS does not, so floats are wrapped in PyFloat.

export class PyFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export const pyFloat = (value: number) => new PyFloat(value);

export type PyJson = null | boolean | number | bigint | string | PyFloat | PyJson[] | { [key: string]: PyJson };

/** Python's `repr(float)`: shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16, else scientific. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp >= -5 && exp < 16) {
    // Python switches to scientific below 1e-4 (exponent -5 and lower).
    if (exp < -4) return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e-0${-exp}`;
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${whole}.${frac || '0'}`;
  }
  const expOut = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${expOut}`;
}

/** A JSON string literal with ensure_ascii (non-ASCII as \uXXXX, UTF-16 units). */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export function pyJsonDumps(value: PyJson, indent = 4, level = 0): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`pyJsonDumps: ${value} is not an integer; wrap floats in pyFloat()`);
    return String(value);
  }
  if (typeof value === 'string') return pyString(value);
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  const pad = ' '.repeat(indent * (level + 1));
  const close = ' '.repeat(indent * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + pyJsonDumps(v, indent, level + 1)).join(',\n')}\n${close}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}${pyString(k)}: ${pyJsonDumps(v, indent, level + 1)}`).join(',\n')}\n${close}}`;
}
