"""Inference commitments without torch: hash inputs and outputs, write and read output artifacts, check
output proofs against the chain (tensors as bytes: pinpoint/tensors.py).

The coordinator and the submitter's client use this module, so it must not import torch (a test checks).

An inference job is a job with checkpointCount = N inputs and checkpointInterval = 1 on chain; its leaves
are the usual checkpoint leaves (jobId, index, step = index, stateHash) (pinpoint/merkle.py), every
stateHash bound to the job's spec hash (the 32 bytes posted on chain, pinpoint/spec.py):
- leaf 0: stateHash = sha256(specHash || weightsHash), weightsHash the canonical state hash of the
  weights artifact (every tensor in it), which binds the model that was run;
- leaf k (1..N), for input k-1: stateHash = sha256(specHash || inputHash || outputHash), where inputHash
  is the canonical hash of the single entry "input" (row k-1 of the `inputs` tensor) and outputHash that
  of the single entry "output" (the model's output for that row alone, batch dimension dropped).
The spec hash covers every field (the inputs artifact and count included), so two jobs over the same
model and the same rows share no leaf unless their specs are identical: one job's disclosed leaves
(audit reveals, disputes, published outputs) reveal nothing about another's (docs/PROTOCOL.md, "State
hashes bind the spec").
"Canonical hash" is the state hash (pinpoint/tensors.py, the layout of worker/engine/state.py); a test
checks that the torch and the pure-Python hashes agree.

Each leaf k >= 1 is reported with an artifact of its own ("pinpoint.inference-output/1": the entries
"input" and "output"), so that the coordinator can withhold a sampled leaf's output while it is under
audit exactly as it withholds a training checkpoint (backend/disclosure.py).

    leaf = leaf_state_hash(spec.spec_hash(), input_hash(row), output_hash(output))
    verify_output(job_id, spec_hash, final_root_from_chain, expected_input_hash, entry)   # OutputProofError
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pinpoint.merkle import CHECKPOINT_LEAF_TYPES, StandardMerkleTree, checkpoint_leaf
from pinpoint.tensors import (
    RawTensor,
    SafetensorsError,
    read_safetensors,
    spec_hash_bytes,
    state_hash,
    write_safetensors,
)

OUTPUT_FORMAT = "pinpoint.inference-output/1"
INPUTS_TENSOR = "inputs"


class OutputProofError(ValueError):
    """An output does not check out against the on-chain root; `index` names the input (0-based)."""

    def __init__(self, index: int | None, why: str):
        self.index = index
        super().__init__(f"output {index}: {why}" if index is not None else why)


# ---------------------------------------------------------------- inputs


def inputs_artifact(inputs: RawTensor) -> bytes:
    """The bytes of an inputs artifact (one tensor `inputs`, one row per input)."""
    return write_safetensors({INPUTS_TENSOR: inputs})


def read_inputs(blob: bytes, count: int | None = None) -> RawTensor:
    """The `inputs` tensor of an inputs artifact, checking it has `count` rows when given."""
    tensors, _ = read_safetensors(blob)
    if set(tensors) != {INPUTS_TENSOR}:
        raise SafetensorsError(f"an inputs artifact holds exactly one tensor {INPUTS_TENSOR!r}, found {sorted(tensors)}")
    inputs = tensors[INPUTS_TENSOR]
    if not inputs.shape:
        raise SafetensorsError("inputs must have a batch dimension (one row per input), got a scalar")
    if count is not None and inputs.shape[0] != count:
        raise SafetensorsError(f"the inputs artifact has {inputs.shape[0]} rows, the spec says {count} inputs")
    return inputs


# ---------------------------------------------------------------- hashes


def input_hash(row: RawTensor) -> bytes:
    return state_hash({"input": row})


def output_hash(output: RawTensor) -> bytes:
    return state_hash({"output": output})


def leaf_state_hash(spec_hash: str | bytes, input_digest: bytes, output_digest: bytes) -> bytes:
    """The state hash in leaf k >= 1: sha256(specHash || inputHash || outputHash)."""
    if len(input_digest) != 32 or len(output_digest) != 32:
        raise ValueError("input and output hashes are 32 bytes")
    return hashlib.sha256(spec_hash_bytes(spec_hash) + input_digest + output_digest).digest()


def model_leaf_hash(spec_hash: str | bytes, weights_digest: bytes) -> bytes:
    """The state hash in leaf 0: sha256(specHash || weightsHash), weightsHash the canonical state hash of
    every tensor in the weights artifact."""
    if len(weights_digest) != 32:
        raise ValueError("the weights hash is 32 bytes")
    return hashlib.sha256(spec_hash_bytes(spec_hash) + weights_digest).digest()


def output_artifact(spec_hash: str | bytes, index: int, row: RawTensor, output: RawTensor) -> bytes:
    """The artifact reported with leaf index+1 of the job with `spec_hash`: the input row and its output
    (the metadata is informative; readers recompute every hash)."""
    digests = (input_hash(row), output_hash(output))
    metadata = {"format": OUTPUT_FORMAT, "index": str(index), "spec_hash": "0x" + spec_hash_bytes(spec_hash).hex(),
                "input_hash": "0x" + digests[0].hex(), "output_hash": "0x" + digests[1].hex(),
                "state_hash": "0x" + leaf_state_hash(spec_hash, *digests).hex()}
    return write_safetensors({"input": row, "output": output}, metadata)


@dataclass(frozen=True)
class OutputRecord:
    """One input's committed output, read from its artifact, as a leaf of the job with `spec_hash`."""

    index: int
    input: RawTensor
    output: RawTensor
    input_hash: bytes
    output_hash: bytes
    spec_hash: bytes

    @property
    def state_hash(self) -> bytes:
        return leaf_state_hash(self.spec_hash, self.input_hash, self.output_hash)


def read_output_artifact(blob: bytes, spec_hash: str | bytes) -> OutputRecord:
    """Parse an output artifact as a leaf of the job with `spec_hash` (the reader's, from the chain) and
    recompute its hashes (the metadata, its spec hash included, is not trusted)."""
    tensors, metadata = read_safetensors(blob)
    if metadata.get("format") != OUTPUT_FORMAT or set(tensors) != {"input", "output"}:
        raise SafetensorsError(f"not a {OUTPUT_FORMAT} artifact")
    try:
        index = int(metadata["index"])
    except (KeyError, ValueError):
        raise SafetensorsError("output artifact without a valid index") from None
    row, output = tensors["input"], tensors["output"]
    return OutputRecord(index, row, output, input_hash(row), output_hash(output), spec_hash_bytes(spec_hash))


# ---------------------------------------------------------------- checking an output against the chain


def verify_output(job_id: int, spec_hash: str | bytes, final_root: str, expected_input_hash: bytes,
                  entry: dict) -> RawTensor:
    """Check one entry of GET /jobs/{id}/outputs against the job's on-chain final root; return its output.

    Trusts nothing in `entry` but what it proves: the output hash is recomputed from the returned bytes,
    the input hash is the caller's own (from the inputs artifact named by the spec), the displayed values
    must be the ones the bytes hold, and the leaf (jobId, k, k, sha256(specHash || in || out)) must be
    proven by `proof` against `final_root`; `spec_hash` is the job's (from the chain, hash-checked spec).
    Raises OutputProofError naming the input."""
    index = entry.get("index")
    if not isinstance(index, int) or index < 0:
        raise OutputProofError(None, f"entry without a valid index: {index!r}")
    try:
        output = RawTensor.from_json(entry["output"])
    except (KeyError, ValueError) as exc:
        raise OutputProofError(index, f"malformed output: {exc}") from None
    digest = output_hash(output)
    if entry.get("output_hash") != "0x" + digest.hex():
        raise OutputProofError(index, "the output bytes do not hash to the output hash the coordinator claims")
    if entry.get("input_hash") != "0x" + expected_input_hash.hex():
        raise OutputProofError(index, "the coordinator names another input than the one in the inputs artifact")
    if "values" in entry and entry["values"] != output.values():
        raise OutputProofError(index, "the output values shown are not the ones in the output bytes")
    leaf = checkpoint_leaf(job_id, index + 1, index + 1, leaf_state_hash(spec_hash, expected_input_hash, digest))
    if not StandardMerkleTree.verify(final_root, CHECKPOINT_LEAF_TYPES, leaf, entry.get("proof") or []):
        raise OutputProofError(index, "the Merkle proof does not verify against the on-chain final root")
    return output


@dataclass(frozen=True)
class CheckedOutput:
    """One input's output as a client sees it: proven against the chain, withheld for now, or refused."""

    index: int
    output: RawTensor | None
    problem: str | None = None  # None: proven; else why there is no proven output

    @property
    def proven(self) -> bool:
        return self.output is not None


def checked_outputs(client, spec, job_id: int, final_root: str, page: int = 100) -> list[CheckedOutput]:
    """Every output of inference job `job_id`, each checked against `final_root` read from the chain by the
    caller. `client` is a pinpoint.client.CoordinatorClient and `spec` the job's InferenceSpec, both
    hash-checked by the client; the input hashes come from the inputs artifact itself."""
    inputs = read_inputs(client.download_artifact("0x" + spec.inputs.sha256), spec.inputs.count)
    results = []
    for offset in range(0, spec.inputs.count, page):
        for entry in client.outputs(job_id, offset, page)["outputs"]:
            index = entry["index"]
            if entry.get("withheld"):
                results.append(CheckedOutput(index, None, "withheld while verifiers audit it"))
            elif entry.get("error"):
                results.append(CheckedOutput(index, None, f"coordinator: {entry['error']}"))
            else:
                try:
                    output = verify_output(job_id, spec.spec_hash(), final_root, input_hash(inputs.row(index)), entry)
                    results.append(CheckedOutput(index, output))
                except (OutputProofError, IndexError) as exc:
                    results.append(CheckedOutput(index if isinstance(index, int) else -1, None, str(exc)))
    if sorted(r.index for r in results) != list(range(spec.inputs.count)):
        raise OutputProofError(None, f"the coordinator returned outputs for other inputs than 0..{spec.inputs.count - 1}")
    return results
