// An inference job's outputs, each proven in this browser: its output hash recomputed from the bytes, its input
// hash from the inputs artifact named by the spec (read and hash-checked here when it is small enough), its leaf
// (job, k, k, sha256(spec || input || output)) walked up its Merkle proof to the job's on-chain final root.

import { h, hash, section, table } from "./dom.js";
import { getJson } from "./live.js";
import { Sha256, bytesToHex, checkOutput, inputHash, readSafetensors, row, tensorValues } from "./proofs.js";

const PAGE = 100; // outputs per request (the route's limit is higher)
const MAX_SHOWN = 1000;
const MAX_INPUTS_BYTES = 64 << 20; // larger inputs artifacts are not fetched: their rows' hashes are the entries' own

/** Each input's hash, from the inputs artifact, or a reason why not. */
async function inputHashes(spec) {
  const digest = `0x${spec.inputs.sha256}`;
  const response = await fetch(`/v1/artifacts/${digest}`);
  if (!response.ok) return { why: `the inputs artifact could not be read (${response.status})` };
  if (Number(response.headers.get("Content-Length") || 0) > MAX_INPUTS_BYTES) {
    response.body?.cancel();
    return { why: "the inputs artifact is too large to read here: input hashes are the committed ones" };
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytesToHex(new Sha256().update(bytes).digest()) !== digest) return { why: "the inputs artifact served does not hash to the spec's" };
  const inputs = readSafetensors(bytes).inputs;
  if (!inputs || inputs.shape[0] !== spec.inputs.count) return { why: "the inputs artifact does not hold the spec's rows" };
  return { hashes: Array.from({ length: inputs.shape[0] }, (_, i) => inputHash(row(inputs, i))) };
}

function shown(values) {
  if (values === null) return "(shown as bytes only)";
  const text = values.map((v) => (typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(6) : String(v))).join(", ");
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

export async function renderOutputs(view) {
  const job = view.job;
  const title = h("h1", {}, h("a", { href: `#/jobs/${Number(job.id)}` }, `Job #${job.id}`), " outputs");
  if (!view.spec || view.spec.kind !== "inference") return h("div", { class: "page" }, title, h("p", { class: "empty" }, "not an inference job"));
  if (!job.final_root) return h("div", { class: "page" }, title, h("p", { class: "empty" }, `job ${job.id} is ${job.state}: no final root on chain yet`));
  const inputs = await inputHashes(view.spec).catch((err) => ({ why: `the inputs artifact could not be read: ${err.message}` }));
  const entries = [];
  for (let offset = 0; offset < Math.min(view.spec.inputs.count, MAX_SHOWN); offset += PAGE) {
    const page = await getJson(`/v1/jobs/${Number(job.id)}/outputs?offset=${offset}&limit=${PAGE}`);
    if (page.final_root.toLowerCase() !== job.final_root.toLowerCase()) throw new Error("the outputs come with another root than the job's");
    entries.push(...page.outputs);
  }
  let proven = 0;
  const rows = entries.map((entry) => {
    let status, cls, values = "-";
    if (entry.withheld) { status = "withheld while under audit"; cls = "pending"; }
    else if (entry.error) { status = entry.error; cls = "bad"; }
    else {
      const result = checkOutput(job.id, job.spec_hash, job.final_root, entry, inputs.hashes ? inputs.hashes[entry.index] : null);
      status = result.ok ? "proven" : result.why;
      cls = result.ok ? "ok" : "bad";
      if (result.ok) proven += 1;
      if (result.output) values = shown(tensorValues(result.output));
    }
    return h("tr", { class: "output", "data-index": entry.index },
      h("td", {}, `${entry.index}`), h("td", {}, hash(entry.input_hash)), h("td", { class: "values" }, values),
      h("td", { class: `status ${cls}` }, status));
  });
  return h("div", { class: "page outputs" }, title,
    section("proofs", "Outputs and their proofs",
      h("dl", { class: "facts" },
        h("dt", {}, "final root (on chain)"), h("dd", {}, hash(job.final_root, { id: "outputs-root" })),
        h("dt", {}, "inputs"), h("dd", { id: "inputs-check", class: inputs.hashes ? "ok" : "pending" },
          inputs.hashes ? `${inputs.hashes.length} rows read from artifact 0x${view.spec.inputs.sha256.slice(0, 12)}…, its sha256 checked` : inputs.why),
        h("dt", {}, "proven here"), h("dd", { id: "proven-count" }, `${proven} of ${view.spec.inputs.count}`)),
      table(["input", "input hash", "output", "check"], rows)));
}
