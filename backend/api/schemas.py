"""Pydantic models of the REST API, per entity family."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pinpoint.spec import AnySpec


class SpecAccepted(BaseModel):
    spec_hash: str = Field(description="bytes32 to post on chain as the job's spec hash")
    checkpoint_count: int
    checkpoint_interval: int
    created: bool = Field(description="False when the same spec was stored before")


class BidPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    solver: str
    price: str
    block_number: int


class CheckpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    index: int
    step: int
    leaf: str = Field("", description="Merkle leaf hash (Market.checkpointLeaf): always shown")
    state_hash: str | None = Field(description="null while withheld from verifiers (audit commit window)")
    artifact: str | None = Field(description="null while withheld, like state_hash")
    loss: float | None


class VerdictPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    verifier: str
    interval: int
    agrees: bool
    detail: str
    created_at: datetime


class DisputePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: Literal["fault", "availability", "genesis"] = Field(
        description="fault: a bisection over a disputed interval; availability: the solver must serve one checkpoint; "
                    "genesis: the solver's initial state, recomputed from the spec by the referees")
    challenger: str
    lo: int = Field(description="fault: step of the state both sides agree on; availability: step of the demanded checkpoint")
    hi: int = Field(description="fault: step of the solver's disputed claim; availability: equal to lo")
    rounds: int
    phase: str
    solver_won: bool | None


class JobSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    state: str
    spec_hash: str
    submitter: str
    solver: str | None
    max_price: str
    price: str | None
    checkpoint_count: int
    checkpoints_done: int


class JobPage(BaseModel):
    items: list[JobSummary] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page. Opaque: "
                                    "jobs indexed meanwhile never shift the pages")


class JobPublic(JobSummary):
    required_stake: str
    checkpoint_interval: int
    bidding_deadline: int
    execution_deadline: int | None
    challenge_deadline: int | None
    progress_root: str | None
    final_root: str | None
    solver_payout: str | None
    submitter_refund: str | None
    slashed: str | None
    bids: list[BidPublic]
    checkpoints: list[CheckpointPublic]
    verdicts: list[VerdictPublic]
    disputes: list[DisputePublic]
    final_loss: float | None = Field(None, description="Mean training loss of the last reported interval")


class Created(BaseModel):
    created: bool = Field(description="False when the same report was stored before")


class CheckpointReport(BaseModel):
    """Sent as a signed request (pinpoint.signing) by the job's solver."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    index: int = Field(ge=0, le=2**20)
    step: int = Field(ge=0, le=2**40)
    state_hash: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    artifact: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    loss: float | None = Field(None, ge=0, le=1e30, description="mean training loss of the interval; finite")


class VerdictReport(BaseModel):
    """Sent as a signed request (pinpoint.signing) by a registered verifier."""

    model_config = ConfigDict(extra="forbid")
    interval: int = Field(ge=0, le=2**20)
    agrees: bool
    detail: str = Field(max_length=2000, pattern=r"^[^\x00]*$")


SPEC_SCHEMA = TypeAdapter(AnySpec).json_schema(ref_template="#/components/schemas/{model}")
"""JSON schema of a job spec; its `$defs` go to the OpenAPI components (backend/app.py)."""


def spec_schema() -> dict:
    """The OpenAPI media type of a spec: a training or an inference spec."""
    return {"schema": {k: v for k, v in SPEC_SCHEMA.items() if k != "$defs"}}


def spec_request_body() -> dict:
    """The OpenAPI request body of POST /jobs: a training or an inference spec (the route parses the raw
    bytes itself, to name every problem the way pinpoint.spec does)."""
    from pinpoint.spec import example_cnn_spec, example_gpt_spec, example_inference_spec, example_mlp_spec

    examples = {
        "mlp": ("an MLP on a synthetic dataset (trains in about a second)", example_mlp_spec()),
        "gpt": ("a small GPT decoder on text", example_gpt_spec()),
        "cnn": ("an image classifier", example_cnn_spec()),
        "inference": ("32 inputs through uploaded weights (upload both artifacts first)",
                      example_inference_spec("0x" + "ab" * 32, "0x" + "cd" * 32, 32)),
    }
    content = spec_schema() | {"examples": {name: {"summary": summary, "value": spec.model_dump(mode="json",
                                                                                                  exclude_none=True)}
                                            for name, (summary, spec) in examples.items()}}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


class OutputEntry(BaseModel):
    index: int = Field(description="input index, 0-based; its leaf is index + 1")
    withheld: bool = Field(False, description="under audit: shown once the verifiers' commit window has ended")
    error: str | None = Field(None, description="why the coordinator cannot serve this output")
    input_hash: str | None = None
    output_hash: str | None = None
    output: dict | None = Field(None, description="the output tensor: dtype, shape, base64 little-endian data")
    values: Any = Field(None, description="the output as nested lists (a convenience: checked against `output`)")
    proof: list[str] = Field(default_factory=list, description="Merkle proof of the leaf against final_root")


class OutputsPage(BaseModel):
    job_id: int
    state: str
    final_root: str = Field(description="the on-chain root every proof is checked against")
    count: int = Field(description="number of inputs in the job")
    offset: int
    outputs: list[OutputEntry]
