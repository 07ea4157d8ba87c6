"""The dashboard in Chromium, watching real jobs on the real local stack (Anvil, Valkey, the coordinator and its
indexer, a solver, a verifier and a referee): a training job's page follows it to finalized without a reload
(server-sent events) and shows what the chain holds (roots, the verifier's approval, payouts, stakes); an
inference job on that job's final checkpoint has every output proven in the browser, and a proof the test
tampers with in flight is shown failing."""

import json

import pytest
from playwright.sync_api import expect

from backend.dashboard.screenshots import (
    final_checkpoint,
    start_stack,
    submit_inference,
    submit_training,
)
from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.units import format_eth
from tests.e2e.waiting import wait_for

COUNT = 8  # inference inputs
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with LocalStack(tmp_path_factory.mktemp("dashboard"), chain_port=free_port(), api_port=free_port(),
                    poll_seconds=0.3) as stack:
        start_stack(stack, progress=lambda _: None)
        yield stack


def test_dashboard_followsRealJobs_andProvesOutputsInTheBrowser(stack, page):
    chain = Chain(stack.rpc_url, stack.deployment_file)
    api = CoordinatorClient(stack.api_url)
    solver, verifier = (chain.w3.eth.account.from_key(ANVIL_KEYS[i]).address for i in (2, 3))

    train_id, spec = submit_training(stack)
    wait_for(lambda: api.jobs(), "the index to see the job")
    page.goto(f"{stack.api_url}/#/jobs/{train_id}")
    expect(page.locator("#live")).to_have_text("live")
    assert page.locator("#job-state").inner_text() in ("bidding", "running", "submitted")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # The inference job runs on the training job's final checkpoint while the training job is under review.
    infer_id, _ = submit_inference(stack, final_checkpoint(api, train_id), COUNT)

    # Live: the page reaches finalized by itself.
    expect(page.locator("#job-state")).to_have_text("finalized", timeout=240_000)
    assert page.evaluate("window.sameDocument") is True
    job = chain.job(train_id)
    assert job["state"] == JobState.FINALIZED

    # One point of the loss curve per checkpoint; the roots are the chain's, and rebuilt from the leaves here.
    expect(page.locator("#loss .loss-point")).to_have_count(spec.checkpoint_count)
    assert page.locator("#final-root").inner_text() == job["finalRoot"]
    assert page.locator("#progress-root").inner_text() == job["progressRoot"]
    expect(page.locator("#tree-check")).to_have_class("ok")
    expect(page.locator("tr.checkpoint")).to_have_count(spec.checkpoint_count + 1)

    # The verifier's approval, as the Audit contract and its report say.
    expect(page.locator(f'tr.audit[data-verifier="{verifier}"] td.verdict')).to_have_text("approved")
    expect(page.locator(f'tr.verdict-report[data-verifier="{verifier}"] td.ok')).to_have_text("agrees")

    # Payouts as the chain paid them, in ether with exact decimals.
    [paid] = chain.market.events.JobFinalized().get_logs(from_block=0, argument_filters={"jobId": train_id})
    assert page.locator("#solver-payout").inner_text() == format_eth(paid.args.solverPayout) == format_eth(job["price"])
    assert page.locator("#submitter-refund").inner_text() == format_eth(paid.args.submitterRefund)
    assert page.locator("#slashed").inner_text() == "-"

    # The market: the job, and the solver's stakes as the chain holds them.
    page.goto(f"{stack.api_url}/#/")
    expect(page.locator(f'#recent-jobs tr.job[data-job="{train_id}"]')).to_contain_text("finalized")
    solver_row = page.locator(f'#solvers tr.participant[data-address="{solver}"]')
    staking = chain.staking.functions
    wait_for(lambda: solver_row.locator(".stake").inner_text() == format_eth(staking.freeStake(solver).call())
             and solver_row.locator(".locked").inner_text() == format_eth(staking.lockedStake(solver).call()),
             "the solver's stakes as the chain has them")
    expect(page.locator(f'#verifiers tr.participant[data-address="{verifier}"] .stake')).to_have_text(
        format_eth(chain.audit.functions.stakeOf(verifier).call()))

    # The inference job's outputs, each proven in the browser against its final root.
    wait_for(lambda: chain.job(infer_id)["state"] == JobState.FINALIZED, "the inference job to be finalized", 240)
    page.goto(f"{stack.api_url}/#/jobs/{infer_id}/outputs")
    statuses = page.locator("tr.output td.status")
    expect(statuses).to_have_text(["proven"] * COUNT, timeout=30_000)
    expect(page.locator("#inputs-check")).to_have_class("ok")
    assert page.locator("#outputs-root").inner_text() == chain.job(infer_id)["finalRoot"]

    # A proof tampered with on its way to the browser: that output, and only that one, fails.
    def flip_a_byte(route):
        body = route.fetch().json()
        proof = body["outputs"][3]["proof"]
        proof[0] = proof[0][:-2] + format(int(proof[0][-2:], 16) ^ 0x01, "02x")
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(f"**/v1/jobs/{infer_id}/outputs?*", flip_a_byte)
    page.reload()
    expect(statuses).to_have_text(["proven"] * 3 + ["does not match the root"] + ["proven"] * (COUNT - 4), timeout=30_000)
