"""The review of a result as the coordinator indexes and serves it, on a real chain: the challenge window
that opens when the sample is sealed, a result nobody approved (unverified), availability disputes
answered and unanswered, and a fault dispute. Jobs are run by hand (tests/backend/scenario.py)."""

from backend.indexer import Indexer
from backend.models import Dispute, Job
from tests.backend.scenario import (
    award,
    client,
    fresh_key,
    post_and_bid,
    seal,
    staked_solver,
    submit,
    submitter_of,
)
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time


def test_review_isIndexed_fromSealToUnverifiedAndDisputesOfBothKinds(api, chain_stack):
    reader = client(chain_stack)
    submitter, solver = submitter_of(chain_stack), staked_solver(chain_stack)
    challenger = client(chain_stack, fresh_key(reader))
    minimum_window = reader.market.functions.minimumChallengeDuration().call()
    dispatcher = RecordingDispatcher()
    indexer = Indexer(reader, api.app.state.sessions, dispatcher)
    sessions = api.app.state.sessions

    unverified = post_and_bid(submitter, solver, challenge_seconds=minimum_window)
    answered, unanswered, faulty = (post_and_bid(submitter, solver) for _ in range(3))
    runs = [unverified, answered, unanswered, faulty]
    award(runs, solver)
    drain(indexer)  # (an award indexed only after its result was submitted is not sent: nothing to execute)
    submit(runs, solver)
    drain(indexer)
    with sessions() as s:
        for run in runs:  # the final root is in, but the review window opens only at the seal
            job = s.get(Job, run.job_id)
            assert (job.state, job.final_root, job.challenge_deadline) == ("submitted", run.tree.root, None)
    ours = {run.job_id for run in runs}
    # Only awards are sent to a worker: each verifier host watches the chain for results itself.
    assert [x for x in dispatcher.sent if x[1] in ours] == [("execute", run.job_id, solver.address) for run in runs]

    seal(runs, submitter)
    drain(indexer)
    with sessions() as s:
        for run in runs:
            on_chain = reader.job(run.job_id)
            assert on_chain["challengeDeadline"] == on_chain["sampleSealedAt"] + on_chain["challengeDuration"] > 0
            assert s.get(Job, run.job_id).challenge_deadline == on_chain["challengeDeadline"]
        assert s.get(Job, unverified.job_id).challenge_deadline == reader.job(unverified.job_id)["sampleSealedAt"] + minimum_window

    # Challenges open once the audit's commit window is over.
    advance_time(reader.w3, reader.audit.functions.commitWindow().call() + 1)
    game, bond = "DisputeGame", reader.game.functions.challengeBond().call()
    demand_bond = reader.game.functions.availabilityBond().call()
    challenger.transact(game, "challengeAvailability", answered.job_id, 2, value=demand_bond)
    challenger.transact(game, "challengeAvailability", unanswered.job_id, 1, value=demand_bond)
    tree = faulty.tree
    challenger.transact(game, "challenge", faulty.job_id, 1, faulty.hash_hex(1), tree.get_proof(1), faulty.hash_hex(2),
                        tree.get_proof(2), "0x" + "ee" * 32, value=bond)
    dispute_of = {run.job_id: reader.game.functions.disputesOf(run.job_id).call()[-1] for run in runs[1:]}
    assert 0 not in dispute_of.values()
    drain(indexer)

    def dispute(run) -> tuple:
        with sessions() as s:
            d = s.get(Dispute, dispute_of[run.job_id])
            return d.job_id, d.kind, d.challenger, d.lo, d.hi, d.phase, d.solver_won, s.get(Job, run.job_id).state

    step = answered.interval  # checkpoint k is at step k * interval
    assert dispute(answered) == (answered.job_id, "availability", challenger.address, 2 * step, 2 * step, "serve", None, "disputed")
    assert dispute(unanswered) == (unanswered.job_id, "availability", challenger.address, step, step, "serve", None, "disputed")
    assert dispute(faulty) == (faulty.job_id, "fault", challenger.address, step, 2 * step, "reveal", None, "disputed")

    # The solver serves checkpoint 2: the step verifier's turn.
    solver.transact(game, "answerAvailability", dispute_of[answered.job_id], answered.hash_hex(2),
                    answered.tree.get_proof(2), "0x" + "ab" * 32)
    drain(indexer)
    assert dispute(answered)[5:] == ("adjudicating", None, "disputed")

    # The silent solver loses both other disputes on time and is slashed; nobody approved the first job.
    advance_time(reader.w3, max(reader.game.functions.clockDuration().call(), minimum_window) + 1)
    for run in (unanswered, faulty):
        challenger.transact(game, "claimTimeout", dispute_of[run.job_id])
    submitter.transact("Market", "finalize", unverified.job_id)
    drain(indexer)
    required_stake = reader.job(unanswered.job_id)["requiredStake"]
    for run in (unanswered, faulty):
        assert dispute(run)[5:] == ("resolved", False, "slashed")
    with sessions() as s:
        assert s.get(Job, unanswered.job_id).slashed == str(required_stake)
        job = s.get(Job, unverified.job_id)
        assert (job.state, job.solver_payout) == ("unverified", None)
    assert reader.job(unverified.job_id)["state"].name == "UNVERIFIED"

    # The API serves all of it.
    view = api.get(f"/v1/jobs/{answered.job_id}").json()
    assert view["state"] == "disputed"
    assert [(d["kind"], d["lo"], d["hi"], d["phase"]) for d in view["disputes"]] == [("availability", 2 * step, 2 * step, "adjudicating")]
    assert [(d["kind"], d["solver_won"]) for d in api.get(f"/v1/jobs/{faulty.job_id}").json()["disputes"]] == [("fault", False)]
    listed = api.get("/v1/jobs", params={"state": "unverified"})
    assert listed.status_code == 200, listed.text
    assert unverified.job_id in [j["id"] for j in listed.json()["items"]]
    assert {j["state"] for j in listed.json()["items"]} == {"unverified"}
    assert api.get(f"/v1/jobs/{unverified.job_id}").json()["state"] == "unverified"
