// C++'s `std::mt19937_64` (the 64-bit Mersenne Twister), which Megatron's build_mapping uses to
// shuffle BERT/T5 sample mappings. BigInt keeps the 64-bit arithmetic exact; the mapping shuffle
// is one draw per sample, so this is not on a hot path.
const NN = 312;
const MM = 156;
const MASK64 = (1n << 64n) - 1n;
const MATRIX_A = 0xb5026f5aa96619e9n;
const UM = 0xffffffff80000000n;
const LM = 0x7fffffffn;

export class MT19937_64 {
  private readonly mt = new BigUint64Array(NN);
  private index = NN;

  constructor(seed: bigint | number) {
    const mt = this.mt;
    mt[0] = BigInt.asUintN(64, BigInt(seed));
    for (let i = 1; i < NN; i++) {
      const prev = mt[i - 1]!;
      mt[i] = (6364136223846793005n * (prev ^ (prev >> 62n)) + BigInt(i)) & MASK64;
    }
  }

  private reload(): void {
    const mt = this.mt;
    const twist = (a: bigint, b: bigint, c: bigint) => {
      const x = (a & UM) | (b & LM);
      return c ^ (x >> 1n) ^ (x & 1n ? MATRIX_A : 0n);
    };
    let i = 0;
    for (; i < NN - MM; i++) mt[i] = twist(mt[i]!, mt[i + 1]!, mt[i + MM]!);
    for (; i < NN - 1; i++) mt[i] = twist(mt[i]!, mt[i + 1]!, mt[i + (MM - NN)]!);
    mt[NN - 1] = twist(mt[NN - 1]!, mt[0]!, mt[MM - 1]!);
    this.index = 0;
  }

  next(): bigint {
    if (this.index >= NN) this.reload();
    let x = this.mt[this.index++]!;
    x ^= (x >> 29n) & 0x5555555555555555n;
    x ^= (x << 17n) & 0x71d67fffeda60000n;
    x ^= (x << 37n) & 0xfff7eee000000000n;
    x ^= x >> 43n;
    return x & MASK64;
  }
}
