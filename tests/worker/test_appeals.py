"""A dispute party appeals the court's proposed verdict when it goes against what it knows, once per proposal,
within the appeal window, while appeals are left and it can afford the bond. A stub chain stands in for the
court and the game: the court's rules are tested in tests/contracts/test_referee_court.py."""

from types import SimpleNamespace

from worker.disputes import DisputePlayer

ME, OTHER = "0x" + "ab" * 20, "0x" + "cd" * 20
CLAIM, TRUTH, ZERO = "0x" + "11" * 32, "0x" + "22" * 32, "0x" + "00" * 32
BOND = 7 * 10**17


class Value:
    def __init__(self, value):
        self.value = value

    def call(self):
        return self.value


class StubChain:
    def __init__(self, proposed, now=1000, balance=10**19, **request):
        self.address = ME
        self.clock, self.sent = now, []
        self.request = {"done": False, "appealDeadline": 1010, "appeals": 0, "round": 1, "proposed": proposed,
                        "preStateArtifact": ZERO} | request
        self.w3 = SimpleNamespace(eth=SimpleNamespace(get_balance=lambda address: balance))
        self.court = SimpleNamespace(functions=SimpleNamespace(
            MAX_APPEALS=lambda: Value(2), MAX_ROUNDS=lambda: Value(5), appealBond=lambda rid: Value(BOND),
            panelSizeOf=lambda rid: Value(7)))

    def now(self):
        return self.clock

    def struct(self, contract, function, request_id):
        return dict(self.request)

    def transact(self, contract, function, *args, value=0):
        self.sent.append((function, args, value))
        return {}


def dispute(solver):
    return {"requestId": 4, "solver": solver, "challenger": OTHER if solver == ME else ME, "hiHash": CLAIM,
            "jobId": 1, "lo": 6, "kind": 0}


def player(chain, ours=None, lie=False):
    p = DisputePlayer(chain, client=None, trainer=None, lie=lie)
    p.our_answer = lambda d, r: bytes.fromhex(ours[2:]) if ours else None
    return p


def test_solver_appealsAnotherAnswerThanItsClaim_oncePerProposal():
    chain = StubChain(proposed=TRUTH)
    p = player(chain)
    p.maybe_appeal(9, dispute(ME), 4)
    p.maybe_appeal(9, dispute(ME), 4)
    assert chain.sent == [("appeal", (4,), BOND)]
    chain.request |= {"round": 2, "appeals": 1}  # the appeal round proposes the same: weighed anew
    p.maybe_appeal(9, dispute(ME), 4)
    assert len(chain.sent) == 2


def test_solver_keepsItsClaimedVerdict():
    chain = StubChain(proposed=CLAIM)
    player(chain).maybe_appeal(9, dispute(ME), 4)
    assert chain.sent == []


def test_challenger_appealsTheClaim_onlyWhenItsReplayDisagrees():
    chain = StubChain(proposed=CLAIM)
    player(chain, ours=CLAIM).maybe_appeal(9, dispute(OTHER), 4)  # its replay agrees: the verdict is right
    assert chain.sent == []
    chain = StubChain(proposed=CLAIM)
    player(chain, ours=TRUTH).maybe_appeal(9, dispute(OTHER), 4)
    assert chain.sent == [("appeal", (4,), BOND)]
    chain = StubChain(proposed=TRUTH)
    player(chain, ours=TRUTH).maybe_appeal(9, dispute(OTHER), 4)  # the verdict goes its way
    assert chain.sent == []
    chain = StubChain(proposed=CLAIM)
    player(chain, lie=True).maybe_appeal(9, dispute(OTHER), 4)  # a challenger of everything knows nothing
    assert chain.sent == []


def test_noAppeal_afterTheWindow_withoutAppealsLeft_orWithoutTheBond():
    for chain in (StubChain(proposed=TRUTH, now=1011), StubChain(proposed=TRUTH, appeals=2),
                  StubChain(proposed=TRUTH, round=5), StubChain(proposed=TRUTH, balance=BOND),
                  StubChain(proposed=TRUTH, appealDeadline=0), StubChain(proposed=TRUTH, done=True)):
        player(chain).maybe_appeal(9, dispute(ME), 4)
        assert chain.sent == []


OPENED_IN = 5  # the block the dispute opened in


class ForwardingChain(StubChain):
    """A dispute whose operator game (id 4, as the dispute holds it) ended Unjudged: the router settled it and
    forwarded the step to the court as request `forwarded` (None: the court's event is not seen yet)."""

    def __init__(self, forwarded, **kwargs):
        super().__init__(**kwargs)
        self.router, self.deployment, self.scans = object(), {"block": 0}, 0
        logs = [] if forwarded is None else [{"args": {"requestId": forwarded}}]

        def step_requested():
            def get_logs(from_block, argument_filters):
                assert (from_block, argument_filters) == (OPENED_IN, {"disputeId": 9})  # no older than the dispute
                self.scans += 1
                return logs
            return SimpleNamespace(get_logs=get_logs)
        self.court.events = SimpleNamespace(StepRequested=step_requested)
        opened = [{"blockNumber": OPENED_IN}]
        self.game = SimpleNamespace(events=SimpleNamespace(DisputeOpened=lambda: SimpleNamespace(
            get_logs=lambda from_block, argument_filters: opened)))

    def struct(self, contract, function, request_id):
        if function == "adjudication":
            return {"disputeId": 9, "settled": True}
        assert request_id == 12, "the court's request, not the operator game's id"
        return dict(self.request)


def test_unjudgedOperatorGame_theForwardedCourtRequestIsAppealed_foundOnce():
    chain = ForwardingChain(forwarded=12, proposed=TRUTH)
    p = player(chain)
    assert p.play_operator_game(9, dispute(ME)) and chain.sent == [("appeal", (12,), BOND)]
    chain.request |= {"round": 2, "appeals": 1}
    p.play_operator_game(9, dispute(ME))
    assert [args for _, args, _ in chain.sent] == [(12,), (12,)] and chain.scans == 1


def test_unjudgedOperatorGame_beforeTheCourtsEventIsSeen_appealsNothing():
    chain = ForwardingChain(forwarded=None, proposed=TRUTH)
    assert player(chain).play_operator_game(9, dispute(ME)) and chain.sent == []
