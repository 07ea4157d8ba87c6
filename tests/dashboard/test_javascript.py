"""The dashboard's JavaScript in Chromium against the Python it mirrors: keccak256 and SHA-256, amounts of ether,
the checkpoint tree and its proofs, the canonical state hash and an inference output's proof; and the page's
drawing of what hostile parties wrote (shown as text, never markup) and of a dispute's bisection."""

import base64
import hashlib
import json
import random
import struct

import pytest
from eth_utils import keccak

from backend.api.schemas import (
    CheckpointPublic,
    DisputePublic,
    JobPublic,
    VerdictPublic,
)
from backend.dashboard.views import BisectionRound, DisputeView, JobView
from pinpoint.inference import input_hash, inputs_artifact, leaf_state_hash, output_hash
from pinpoint.merkle import (
    CHECKPOINT_LEAF_TYPES,
    StandardMerkleTree,
    checkpoint_leaf,
    checkpoint_tree,
)
from pinpoint.tensors import float32_tensor
from pinpoint.units import format_eth

MODULES = """async () => ({
    keccak: await import('/dashboard/keccak.js'), sha: await import('/dashboard/sha256.js'),
    units: await import('/dashboard/units.js'), proofs: await import('/dashboard/proofs.js')})"""


@pytest.fixture
def dashboard(page, pages_only):
    page.goto(pages_only + "/")
    page.evaluate(f"async () => {{ window.m = await ({MODULES})(); }}")
    return page


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_pagesAndAssets_carryAStrictContentSecurityPolicy(page, pages_only):
    response = page.goto(pages_only + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    asset = page.request.get(pages_only + "/dashboard/app.js")
    assert asset.headers["content-security-policy"] == policy
    assert asset.headers["content-type"].startswith("text/javascript")
    assert page.request.get(pages_only + "/dashboard/..%2Froutes.py").status == 404  # only the shipped assets


def test_keccak256_andSha256_matchPython(dashboard):
    draw = random.Random(3)
    for size in (0, 1, 31, 32, 64, 135, 136, 137, 271, 272, 1000, 5000):
        data = bytes(draw.getrandbits(8) for _ in range(size))
        js = dashboard.evaluate("""(data) => { const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            return [m.proofs.bytesToHex(m.keccak.keccak256(bytes)), m.proofs.bytesToHex(m.sha.sha256(bytes)),
                    m.proofs.bytesToHex(m.sha.sha256(bytes.subarray(0, 7), bytes.subarray(7)))]; }""", b64(data))
        assert js == ["0x" + keccak(data).hex(), "0x" + hashlib.sha256(data).hexdigest(), "0x" + hashlib.sha256(data).hexdigest()]


def test_formatEth_isPinpointUnitsFormatEth(dashboard):
    amounts = [0, 1, 10**18, 15 * 10**17, 5 * 10**16, 123456789012345678901, 10**30 + 7, -5 * 10**16]
    for sign in (False, True):
        js = dashboard.evaluate("([amounts, sign]) => amounts.map((a) => m.units.formatEth(a, sign))",
                                [[str(a) for a in amounts], sign])
        assert js == [format_eth(a, sign) for a in amounts]
    assert dashboard.evaluate("m.units.formatEth(null)") == format_eth(None) == "-"


def test_checkpointTree_leavesRootAndProofs_matchPython(dashboard):
    draw = random.Random(5)
    for job_id, count, interval in ((7, 9, 8), (2**40, 1, 3), (1, 33, 1)):
        states = ["0x" + bytes(draw.getrandbits(8) for _ in range(32)).hex() for _ in range(count)]
        tree = checkpoint_tree(job_id, states, interval)
        js = dashboard.evaluate("""([job, states, interval]) => {
            const leaves = states.map((s, i) => m.proofs.checkpointLeaf(job, i, i * interval, s));
            return {leaves: leaves.map(m.proofs.bytesToHex), root: m.proofs.bytesToHex(m.proofs.rootOfLeaves(leaves))}; }""",
                                [str(job_id), states, interval])
        assert js["leaves"] == [tree.leaf_hash(i) for i in range(count)] and js["root"] == tree.root
        for i in range(count):
            walked = dashboard.evaluate("([leaf, proof]) => m.proofs.bytesToHex(m.proofs.processProof(m.proofs.hexToBytes(leaf), proof))",
                                        [tree.leaf_hash(i), tree.get_proof(i)])
            assert walked == tree.root


def test_inferenceOutput_isProvenLikePinpointInference_andAFlippedByteIsNot(dashboard):
    """The page's check of one output (pinpoint.inference.verify_output's rules) on a tree built in Python."""
    job_id, spec_hash, count = 12, "0x" + "ab" * 32, 5
    draw = random.Random(8)
    rows = float32_tensor([[draw.gauss(0, 1) for _ in range(16)] for _ in range(count)])
    outputs = [float32_tensor([[draw.gauss(0, 1) for _ in range(4)]]).row(0) for _ in range(count)]
    leaves = [checkpoint_leaf(job_id, 0, 0, hashlib.sha256(b"model").digest())]
    leaves += [checkpoint_leaf(job_id, k + 1, k + 1, leaf_state_hash(spec_hash, input_hash(rows.row(k)), output_hash(outputs[k])))
               for k in range(count)]
    tree = StandardMerkleTree(leaves, CHECKPOINT_LEAF_TYPES)
    entries = [{"index": k, "input_hash": "0x" + input_hash(rows.row(k)).hex(), "output_hash": "0x" + output_hash(outputs[k]).hex(),
                "output": outputs[k].to_json(), "proof": tree.get_proof(k + 1)} for k in range(count)]
    tampered = json.loads(json.dumps(entries[3]))
    tampered["proof"][0] = tampered["proof"][0][:-2] + format(int(tampered["proof"][0][-2:], 16) ^ 1, "02x")
    artifact = inputs_artifact(rows)
    checked = dashboard.evaluate("""([job, spec, root, entries, tampered, artifact]) => {
        const bytes = Uint8Array.from(atob(artifact), (c) => c.charCodeAt(0));
        const inputs = m.proofs.readSafetensors(bytes).inputs;
        const hashes = entries.map((e) => m.proofs.inputHash(m.proofs.row(inputs, e.index)));
        const check = (e) => m.proofs.checkOutput(job, spec, root, e, hashes[e.index]);
        return {hashes: hashes.map(m.proofs.bytesToHex), results: entries.map((e) => check(e).why), tampered: check(tampered).why,
                values: m.proofs.tensorValues(check(entries[0]).output)}; }""",
                                 [job_id, spec_hash, tree.root, entries, tampered, b64(artifact)])
    assert checked["hashes"] == [e["input_hash"] for e in entries]
    assert checked["results"] == ["proven"] * count
    assert checked["tampered"] == "does not match the root"
    assert checked["values"] == pytest.approx(list(struct.unpack("<4f", bytes(outputs[0].data))))


def test_jobPage_showsHostileTextAsText_andDrawsEachBisectionRound(dashboard):
    """A job's page drawn from a view (the API's own schema): a verdict detail and a spec field holding markup
    show as text, and a fault dispute's bisection is drawn one bar per round, each inside the last."""
    hostile = '<img src=x id=pwned onerror="document.title=1"><script>window.pwned=1</script>'
    job = JobPublic(id=3, state="disputed", spec_hash="0x" + "11" * 32, submitter="0x" + "22" * 20, solver="0x" + "33" * 20,
                    max_price=str(5 * 10**16), price=str(10**15), checkpoint_count=2, checkpoints_done=2,
                    required_stake=str(5 * 10**17), checkpoint_interval=32, bidding_deadline=1, execution_deadline=2,
                    challenge_deadline=3, progress_root=None, final_root=None, solver_payout=None, submitter_refund=None,
                    slashed=None, bids=[], checkpoints=[CheckpointPublic(index=1, step=32, state_hash=None, artifact=None, loss=1.5)],
                    verdicts=[VerdictPublic(verifier="0x" + "44" * 20, interval=1, agrees=False, detail=hostile,
                                            created_at="2026-12-01T00:00:00Z")],
                    disputes=[])
    rounds = [BisectionRound(round=0, lo=32, hi=64, block_number=10),
              BisectionRound(round=1, lo=48, hi=50, points=list(range(34, 64, 2)), segment=8, block_number=11),
              BisectionRound(round=2, lo=48, hi=49, points=[49], segment=0, block_number=12)]
    dispute = DisputeView(**DisputePublic(id=1, kind="fault", challenger="0x" + "44" * 20, lo=48, hi=49, rounds=2,
                                          phase="reveal", solver_won=None).model_dump(), bisection=rounds)
    view = JobView(job=job, spec={"kind": "train", "model": {"name": hostile}}, sampled_intervals=[1], commit_deadline=None,
                   history=[], disputes=[dispute], audits=[], chain_time=None)
    # Drawn into an element of its own: the app's own first draw of #main (its market page, which fails here with
    # no API behind it) may land after this one on a loaded machine.
    dashboard.evaluate("""async (view) => { const { renderJob } = await import('/dashboard/job.js');
        document.body.append(renderJob(view)); }""", json.loads(view.model_dump_json()))
    assert dashboard.locator("tr.verdict-report td.detail-text").inner_text() == hostile
    assert hostile in dashboard.locator("#spec").inner_text()
    assert dashboard.locator("#pwned").count() == 0 and dashboard.evaluate("window.pwned") is None
    bars = dashboard.locator(".dispute rect.round")
    assert [(int(bars.nth(i).get_attribute("data-lo")), int(bars.nth(i).get_attribute("data-hi"))) for i in range(bars.count())] \
        == [(32, 64), (48, 50), (48, 49)]
    widths = [float(bars.nth(i).get_attribute("width")) for i in range(3)]
    assert widths[0] > widths[1] > widths[2]
    assert dashboard.locator(".dispute line.point").count() == 15 + 1  # each round's revealed points
    assert dashboard.locator(".loss-point").count() == 1
