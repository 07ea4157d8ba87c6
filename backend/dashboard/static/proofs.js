// The hashing rules of pinpoint/merkle.py (OpenZeppelin's StandardMerkleTree over checkpoint leaves),
// pinpoint/tensors.py (the canonical state hash, safetensors) and pinpoint/inference.py (an output's leaf),
// in the browser: the outputs page proves each output against the job's root itself.

import { keccak256 } from "./keccak.js";
import { Sha256, sha256 } from "./sha256.js";

export { Sha256 };

export function hexToBytes(hex) {
  const digits = String(hex).replace(/^0x/, "");
  if (digits.length % 2 || /[^0-9a-fA-F]/.test(digits)) throw new Error(`not hex: ${String(hex).slice(0, 80)}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** A uint256 (BigInt, number or decimal string) as its 32-byte ABI word. */
export function uint256(value) {
  let v = BigInt(value);
  if (v < 0n || v >= 2n ** 256n) throw new Error("out of uint256 range");
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

function bytes32(node) {
  const bytes = typeof node === "string" ? hexToBytes(node) : node;
  if (bytes.length !== 32) throw new Error(`Merkle nodes are 32 bytes, got ${bytes.length}`);
  return bytes;
}

/** keccak256(keccak256(abi.encode(uint256 job, uint256 index, uint256 step, bytes32 stateHash))): Market.checkpointLeaf. */
export function checkpointLeaf(jobId, index, step, stateHash) {
  return keccak256(keccak256(concat(uint256(jobId), uint256(index), uint256(step), bytes32(stateHash))));
}

/** keccak256 of the two children, smaller first (OpenZeppelin's MerkleProof). */
export function nodeHash(a, b) {
  return keccak256(compare(a, b) <= 0 ? concat(a, b) : concat(b, a));
}

/** The root a leaf and its proof imply. */
export function processProof(leaf, proof) {
  return proof.reduce((node, sibling) => nodeHash(node, bytes32(sibling)), leaf);
}

/** The root of the StandardMerkleTree over these leaf hashes (sorted, laid out as OpenZeppelin does). */
export function rootOfLeaves(leaves) {
  if (!leaves.length) throw new Error("no leaves");
  const sorted = leaves.map(bytes32).sort(compare);
  const n = sorted.length;
  const tree = new Array(2 * n - 1);
  sorted.forEach((leaf, k) => { tree[tree.length - 1 - k] = leaf; });
  for (let i = tree.length - 1 - n; i >= 0; i--) tree[i] = nodeHash(tree[2 * i + 1], tree[2 * i + 2]);
  return tree[0];
}

// --- tensors ------------------------------------------------------------------------------------------

const SAFETENSORS_DTYPES = { // safetensors name -> [canonical name, bytes per element]
  BOOL: ["bool", 1], U8: ["uint8", 1], I8: ["int8", 1], F8_E5M2: ["float8_e5m2", 1], F8_E4M3: ["float8_e4m3fn", 1],
  I16: ["int16", 2], U16: ["uint16", 2], F16: ["float16", 2], BF16: ["bfloat16", 2], I32: ["int32", 4],
  U32: ["uint32", 4], F32: ["float32", 4], C64: ["complex64", 8], F64: ["float64", 8], I64: ["int64", 8], U64: ["uint64", 8],
};
const ITEMSIZE = Object.fromEntries(Object.values(SAFETENSORS_DTYPES));

function u64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** What the state hash reads before an entry's data (pinpoint.tensors.entry_header). */
export function entryHeader(name, dtype, shape, nbytes) {
  const nameBytes = new TextEncoder().encode(name), dtypeBytes = new TextEncoder().encode(dtype);
  return concat(u64(nameBytes.length), nameBytes, u64(dtypeBytes.length), dtypeBytes, u64(shape.length),
    ...shape.map(u64), u64(nbytes));
}

/** The canonical state hash of named tensors {name: {dtype, shape, data}} (pinpoint.tensors.state_hash). */
export function stateHash(tensors) {
  const hasher = new Sha256();
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    hasher.update(entryHeader(name, t.dtype, t.shape, t.data.length));
    hasher.update(t.data);
  }
  return hasher.digest();
}

/** A tensor as the outputs route sends it ({dtype, shape, data: base64}), its size checked. */
export function tensorFromJson(obj) {
  if (!obj || typeof obj.dtype !== "string" || !Array.isArray(obj.shape) || typeof obj.data !== "string") {
    throw new Error("not a tensor (dtype, shape, base64 data)");
  }
  if (!(obj.dtype in ITEMSIZE) || !obj.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`bad dtype or shape`);
  }
  const binary = atob(obj.data);
  const data = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  if (data.length !== obj.shape.reduce((a, b) => a * b, 1) * ITEMSIZE[obj.dtype]) throw new Error("data size does not match dtype and shape");
  return { dtype: obj.dtype, shape: obj.shape, data };
}

/** The elements of a tensor as a flat list of numbers (BigInt for 64-bit integers); null for dtypes shown as bytes only. */
export function tensorValues(t) {
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const read = { float32: [4, (i) => view.getFloat32(i, true)], float64: [8, (i) => view.getFloat64(i, true)],
    int32: [4, (i) => view.getInt32(i, true)], uint32: [4, (i) => view.getUint32(i, true)],
    int16: [2, (i) => view.getInt16(i, true)], uint16: [2, (i) => view.getUint16(i, true)],
    int8: [1, (i) => view.getInt8(i)], uint8: [1, (i) => view.getUint8(i)], bool: [1, (i) => view.getUint8(i) !== 0],
    int64: [8, (i) => view.getBigInt64(i, true)], uint64: [8, (i) => view.getBigUint64(i, true)] }[t.dtype];
  if (!read) return null;
  const [size, get] = read;
  const out = [];
  for (let i = 0; i < t.data.length; i += size) out.push(get(i));
  return out;
}

/** Tensors of a safetensors file by name ({dtype (canonical), shape, data}), checked as pinpoint.tensors does. */
export function readSafetensors(bytes) {
  if (bytes.length < 8) throw new Error("too short to be a safetensors file");
  const size = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (size > bytes.length - 8) throw new Error("header length exceeds the file");
  const header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + size)));
  const data = bytes.subarray(8 + size);
  const tensors = {};
  const spans = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const known = SAFETENSORS_DTYPES[entry.dtype];
    const [begin, end] = entry.data_offsets || [];
    if (!known || !Array.isArray(entry.shape) || !(0 <= begin && begin <= end && end <= data.length)) {
      throw new Error(`tensor ${name}: bad entry`);
    }
    if (end - begin !== entry.shape.reduce((a, b) => a * b, 1) * known[1]) throw new Error(`tensor ${name}: wrong size`);
    tensors[name] = { dtype: known[0], shape: entry.shape, data: data.subarray(begin, end) };
    spans.push([begin, end]);
  }
  let covered = 0;
  for (const [begin, end] of spans.sort((a, b) => a[0] - b[0])) {
    if (begin !== covered) throw new Error("tensor data overlaps or leaves a gap");
    covered = end;
  }
  if (covered !== data.length) throw new Error("tensor data does not cover the file");
  return tensors;
}

/** Row `index` of a tensor's first dimension. */
export function row(t, index) {
  const size = t.shape.slice(1).reduce((a, b) => a * b, 1) * ITEMSIZE[t.dtype];
  return { dtype: t.dtype, shape: t.shape.slice(1), data: t.data.subarray(index * size, (index + 1) * size) };
}

// --- inference outputs --------------------------------------------------------------------------------

export const inputHash = (input) => stateHash({ input });
export const outputHash = (output) => stateHash({ output });

/** The leaf of input `index` (0-based) of an inference job: (job, index + 1, index + 1, sha256(spec || in || out)). */
export function outputLeaf(jobId, specHash, index, inputDigest, outputDigest) {
  const state = sha256(bytes32(specHash), inputDigest, outputDigest);
  return checkpointLeaf(jobId, index + 1, index + 1, state);
}

/**
 * Check one entry of GET /jobs/{id}/outputs against the job's final root, trusting nothing in it but what it
 * proves (pinpoint.inference.verify_output): the output hash is recomputed from the bytes, the input hash is
 * `expectedInput` (from the inputs artifact, when the page could read it; else the entry's own, which the
 * root still binds), and the leaf must be proven by the proof. Returns {ok, why, output}.
 */
export function checkOutput(jobId, specHash, finalRoot, entry, expectedInput) {
  let output;
  try {
    output = tensorFromJson(entry.output);
  } catch (err) {
    return { ok: false, why: `malformed output: ${err.message}` };
  }
  const digest = outputHash(output);
  if (bytesToHex(digest) !== entry.output_hash) return { ok: false, why: "the output bytes do not hash to the claimed output hash", output };
  let inputDigest;
  try {
    inputDigest = expectedInput || hexToBytes(entry.input_hash);
  } catch (err) {
    return { ok: false, why: "no input hash", output };
  }
  if (bytesToHex(inputDigest) !== entry.input_hash) return { ok: false, why: "another input than the inputs artifact's", output };
  try {
    const leaf = outputLeaf(jobId, specHash, entry.index, inputDigest, digest);
    const root = processProof(leaf, entry.proof || []);
    if (bytesToHex(root) !== String(finalRoot).toLowerCase()) return { ok: false, why: "does not match the root", output };
  } catch (err) {
    return { ok: false, why: `does not match the root (${err.message})`, output };
  }
  return { ok: true, why: "proven", output };
}
