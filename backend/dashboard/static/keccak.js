// keccak256 (the original Keccak padding Ethereum uses, not SHA3-256's), written for this dashboard: WebCrypto
// has no keccak. The 64-bit lanes of Keccak-f[1600] are kept as pairs of 32-bit words (low, high).
// Checked against Python's eth_utils.keccak in tests/dashboard/test_crypto.py.

const ROUND_CONSTANTS = [ // [low, high] of each round's 64-bit constant
  [0x00000001, 0x00000000], [0x00008082, 0x00000000], [0x0000808a, 0x80000000], [0x80008000, 0x80000000],
  [0x0000808b, 0x00000000], [0x80000001, 0x00000000], [0x80008081, 0x80000000], [0x00008009, 0x80000000],
  [0x0000008a, 0x00000000], [0x00000088, 0x00000000], [0x80008009, 0x00000000], [0x8000000a, 0x00000000],
  [0x8000808b, 0x00000000], [0x0000008b, 0x80000000], [0x00008089, 0x80000000], [0x00008003, 0x80000000],
  [0x00008002, 0x80000000], [0x00000080, 0x80000000], [0x0000800a, 0x00000000], [0x8000000a, 0x80000000],
  [0x80008081, 0x80000000], [0x00008080, 0x80000000], [0x80000001, 0x00000000], [0x80008008, 0x80000000],
];
// Rotation of lane x + 5y.
const ROTATIONS = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];
const RATE = 136; // bytes absorbed per permutation: 1600 - 2 * 256 bits

function permute(state) {
  const c = new Uint32Array(10);
  const b = new Uint32Array(50);
  for (const [rcLow, rcHigh] of ROUND_CONSTANTS) {
    // theta: every lane takes the parity of two neighbouring columns.
    for (let x = 0; x < 5; x++) {
      c[2 * x] = state[2 * x] ^ state[2 * x + 10] ^ state[2 * x + 20] ^ state[2 * x + 30] ^ state[2 * x + 40];
      c[2 * x + 1] = state[2 * x + 1] ^ state[2 * x + 11] ^ state[2 * x + 21] ^ state[2 * x + 31] ^ state[2 * x + 41];
    }
    for (let x = 0; x < 5; x++) {
      const left = (x + 4) % 5, right = (x + 1) % 5;
      const rl = c[2 * right], rh = c[2 * right + 1];
      const dLow = c[2 * left] ^ ((rl << 1) | (rh >>> 31));
      const dHigh = c[2 * left + 1] ^ ((rh << 1) | (rl >>> 31));
      for (let y = 0; y < 25; y += 5) {
        state[2 * (x + y)] ^= dLow;
        state[2 * (x + y) + 1] ^= dHigh;
      }
    }
    // rho and pi: rotate each lane, move lane (x, y) to (y, 2x + 3y).
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const from = x + 5 * y, to = y + 5 * ((2 * x + 3 * y) % 5);
        let low = state[2 * from], high = state[2 * from + 1];
        let n = ROTATIONS[from];
        if (n >= 32) { [low, high] = [high, low]; n -= 32; }
        if (n > 0) { [low, high] = [(low << n) | (high >>> (32 - n)), (high << n) | (low >>> (32 - n))]; }
        b[2 * to] = low;
        b[2 * to + 1] = high;
      }
    }
    // chi: each lane mixes with the next two in its row.
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const i = 2 * (x + y), j = 2 * (((x + 1) % 5) + y), k = 2 * (((x + 2) % 5) + y);
        state[i] = b[i] ^ (~b[j] & b[k]);
        state[i + 1] = b[i + 1] ^ (~b[j + 1] & b[k + 1]);
      }
    }
    // iota
    state[0] ^= rcLow;
    state[1] ^= rcHigh;
  }
}

/** keccak256 of `data` (a Uint8Array): 32 bytes. */
export function keccak256(data) {
  const state = new Uint32Array(50);
  const padded = new Uint8Array(Math.floor(data.length / RATE) * RATE + RATE);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  for (let offset = 0; offset < padded.length; offset += RATE) {
    for (let i = 0; i < RATE / 4; i++) {
      const at = offset + 4 * i;
      state[i] ^= padded[at] | (padded[at + 1] << 8) | (padded[at + 2] << 16) | (padded[at + 3] << 24);
    }
    permute(state);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (state[i >> 2] >>> (8 * (i & 3))) & 0xff;
  return out;
}
