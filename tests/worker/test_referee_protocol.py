"""The referee worker plays the court's protocol on its own: draw once the seed block is mined, commit while on
the panel (the salt kept under its home), reveal after a restart, decide once the reveal window closed, and
abandon a request nobody but the parties can sit on. A stub chain stands in for the court: these are the
worker's decisions, the court's own rules are tested in tests/contracts/test_referee_court.py."""

import json
from types import SimpleNamespace

from web3.exceptions import ContractLogicError

from worker.referee import ZERO, Referee, answer_commitment

ADDRESS = "0x" + "ab" * 20
ANSWER = b"\x42" * 32
SEED = "0x" + "11" * 32
SILENT, HONEST = "0x" + "51" * 20, "0x" + "4f" * 20


class Value:
    def __init__(self, value):
        self.value = value

    def call(self):
        return self.value


class StubChain:
    """Just what Referee reads and sends; `request` is what getRequest returns."""

    def __init__(self, request, now, block=100, on_panel=True, eligible=1):
        self.address = ADDRESS
        self.deployment = {"block": 1}
        self.request, self.clock, self.sent = request, now, []
        self.w3 = SimpleNamespace(eth=SimpleNamespace(block_number=block))
        functions = SimpleNamespace(
            requestCount=lambda: Value(1), onPanel=lambda rid, who: Value(on_panel),
            eligibleStake=lambda rid: Value(eligible), answerWindow=lambda: Value(15), slash=self.would_slash,
            panelSizeOf=lambda rid: Value(3))
        registered = [{"args": {"referee": who}} for who in (SILENT, HONEST)]
        events = SimpleNamespace(
            RefereeRegistered=lambda: SimpleNamespace(get_logs=lambda from_block, to_block: registered),
            RefereeSlashed=lambda: SimpleNamespace(process_receipt=lambda receipt: [{"args": {"amount": 5}}]))
        self.court = SimpleNamespace(functions=functions, events=events)

    def would_slash(self, request_id, referee):
        """The court's answer, as an eth_call: only the silent referee is slashable."""
        def call(tx):
            if referee != SILENT:
                raise ContractLogicError("NotSlashable")
        return SimpleNamespace(call=call)

    def now(self):
        return self.clock

    def struct(self, contract, function, request_id):
        return dict(self.request)

    def transact(self, contract, function, *args, value=0):
        self.sent.append((function, args))
        return {"gasUsed": 1}


def request(**fields):
    base = {"done": False, "seed": SEED, "seedBlock": 90, "armedAt": 1000, "round": 1, "commitDeadline": 1015,
            "revealDeadline": 1030, "step": 7, "hasVerdict": False, "verdict": ZERO, "appeals": 0,
            "hasProposal": False, "proposed": ZERO, "appealDeadline": 0}
    return base | fields


def referee(chain, home):
    r = Referee(chain, client=None, home=home)
    r.execute_step = lambda req: ANSWER  # the step itself is tested with the engine
    return r


def test_onThePanel_commitsKeepsTheSalt_andRevealsItAfterARestart(tmp_path):
    chain = StubChain(request(), now=1010)
    referee(chain, tmp_path).tick()
    [(function, (request_id, commitment))] = chain.sent
    kept = json.loads((tmp_path / "referee" / f"{ADDRESS}.json").read_text())["1:1"]
    assert (function, request_id, kept["answer"]) == ("commitAnswer", 1, ANSWER.hex())
    assert commitment == answer_commitment(1, ADDRESS, ANSWER, bytes.fromhex(kept["salt"]))

    restarted = StubChain(request(), now=1020)  # a new process, in the reveal window
    referee(restarted, tmp_path).tick()
    assert restarted.sent == [("revealAnswer", (1, ANSWER, bytes.fromhex(kept["salt"])))]
    referee(restarted, tmp_path).tick()  # revealed once only
    assert len(restarted.sent) == 1


def test_offThePanel_staysOut_thenDecides(tmp_path):
    chain = StubChain(request(), now=1010, on_panel=False)
    referee(chain, tmp_path).tick()
    assert chain.sent == []
    chain.clock = 1031
    referee(chain, tmp_path).tick()
    assert chain.sent == [("decide", (1,))]


def test_proposedVerdict_finalizedOnlyAfterTheAppealWindow(tmp_path):
    chain = StubChain(request(hasProposal=True, proposed=SEED, appealDeadline=1045), now=1045)
    referee(chain, tmp_path).tick()
    assert chain.sent == []  # the parties may still appeal
    chain.clock = 1046
    referee(chain, tmp_path).tick()
    assert chain.sent == [("decide", (1,))]


def test_appealRound_onThePanel_commitsUnderTheRoundsKey(tmp_path):
    """An appeal round is a new round: a referee that answered round 1 commits again (its answer kept)."""
    chain = StubChain(request(round=2, appeals=1, hasProposal=True, proposed=SEED), now=1010)
    worker = referee(chain, tmp_path)
    worker.commits["1:1"] = {"answer": ANSWER.hex(), "salt": "00" * 32, "revealed": True}
    worker.tick()
    assert [f for f, _ in chain.sent] == ["commitAnswer"] and "1:2" in worker.commits


def test_draws_onceTheSeedBlockIsMined(tmp_path):
    chain = StubChain(request(seed=ZERO, seedBlock=100), now=1001, block=100)
    referee(chain, tmp_path).tick()
    assert chain.sent == []  # the seed block is the latest: its hash is not there yet
    chain.w3.eth.block_number = 101
    referee(chain, tmp_path).tick()
    assert chain.sent == [("draw", (1,))]


def test_nobodyCanSit_abandonsAfterOneWindow(tmp_path):
    chain = StubChain(request(seed=ZERO), now=1015, eligible=0)
    referee(chain, tmp_path).tick()
    assert chain.sent == []
    chain.clock = 1016
    referee(chain, tmp_path).tick()
    assert chain.sent == [("decide", (1,))]


def test_onceDecided_slashesOnlyWhatTheCourtWouldSlash(tmp_path):
    chain = StubChain(request(), now=1031, on_panel=False)
    worker = referee(chain, tmp_path)
    worker.tick()  # seen open: decides
    chain.request = request(done=True, hasVerdict=True)
    worker.tick()
    assert chain.sent == [("decide", (1,)), ("slash", (1, SILENT))]
    worker.tick()  # checked once
    assert len(chain.sent) == 2
