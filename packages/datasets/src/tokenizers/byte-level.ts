// GPT-2's byte-level alphabet: every byte maps to a printable unicode character, so that BPE
// merges operate on text and any byte string round-trips (OpenAI's bytes_to_unicode).

function buildByteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const map = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : next++);
  return map;
}

export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));
