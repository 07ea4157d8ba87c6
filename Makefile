# Pinpoint: `make demo` runs one job end to end; `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solc

.PHONY: bench-gas bench-load bench-repops bench-scale bench-swarm setup demo demo-dispute demo-swarm demo-false-challenge demo-withhold demo-inference test test-contracts test-invariants fuzz-nightly slither test-python test-shared test-solo test-nightly test-gpu chromium screenshots bench bench-finetune compile clean

setup: $(VENV)/.installed node_modules/.installed .build/__local__.json

# torch is pinned to the CPU build first so the project's range installs nothing more (TOOLCHAIN.md).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	# `npm ci` rejects this lock file: npm leaves the other platforms' optional Foundry binaries out of it.
	npm install --no-audit --no-fund --loglevel=error
	touch $@

compile: .build/__local__.json
.build/__local__.json: $(VENV)/.installed node_modules/.installed $(wildcard contracts/*.sol contracts/*/*.sol) ape-config.yaml
	$(BIN)/ape compile
	touch $@

demo: setup
	$(BIN)/python -m pinpoint.demo

# A solver that cheats once (scales its weights after step 13): disputed, pinpointed to that step, slashed.
demo-dispute: setup
	$(BIN)/python -m pinpoint.demo --cheat perturb_once@13

# A verifier that challenges honest work: the solver wins the dispute and the challenger's bond.
demo-false-challenge: setup
	$(BIN)/python -m pinpoint.demo --false-challenge

# A solver that trains but publishes nothing: the verifier demands a checkpoint on chain; unserved, it is slashed.
demo-withhold: setup
	$(BIN)/python -m pinpoint.demo --cheat withhold@0

# Train, then run the trained model on 32 inputs as an inference job; every output proven against the chain.
demo-inference: setup
	$(BIN)/python -m pinpoint.demo --inference

# One model on 4 solvers in rounds: a replica that cheats and one that goes silent are slashed and replaced by
# standbys, the others paid per verified round.
demo-swarm: setup
	$(BIN)/python -m pinpoint.demo_swarm

# The contract tests (one busy core) and the solo tests (busy, but robust to a slow machine) run side by side;
# then the invariants, then the other Python tests on two workers.
test: setup chromium
	$(MAKE) -j2 --output-sync=target test-contracts test-solo
	$(MAKE) test-invariants test-shared

test-contracts: setup
	$(BIN)/ape test tests/contracts

# Foundry invariant suite (tests/invariants, foundry.toml): handlers drive all five contracts; solvency after every
# call, every exit taken and every contract drained to zero after every run. ~100k calls, ~2.5 min on 2 cores.
test-invariants: setup
	forge test --offline

# Ten times the calls of test-invariants (FOUNDRY_PROFILE=nightly in foundry.toml).
fuzz-nightly: setup
	FOUNDRY_PROFILE=nightly forge test --offline

# slither-analyzer over the contracts, built by forge (docs/SLITHER.md triages every finding it reports).
# Own venv under .cache/: it adds solc-select, whose `solc` shim must stay off the project venv (docs/SLITHER.md).
SLITHER_VENV := .cache/slither-venv
$(SLITHER_VENV)/.installed:
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet slither-analyzer==0.11.6
	touch $@

slither: setup $(SLITHER_VENV)/.installed
	$(SLITHER_VENV)/bin/slither . --config-file slither.config.json

# Debian's Chromium for the dashboard's browser tests (Playwright's own browser download is not reachable):
# installed once, as root or through sudo, when /usr/bin/chromium is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# docs/screenshots/*.png of the dashboard, taken of a training and an inference job on a local stack (~3 minutes).
screenshots: setup chromium
	$(BIN)/python -m backend.dashboard.screenshots

# Two pytest workers: the end-to-end stacks mostly wait on chain windows and clocks, so they overlap well; a
# worker that runs out of tests steals from the other (--dist worksteal), so the long end-to-end tail is shared.
# Tests marked solo (a swarm's eight hosts keep both cores busy) run apart, one at a time: beside them a
# verifier of another stack missed its real-time commit window.
# A test that fails runs once more (pytest-rerunfailures; shown as R and counted as "rerun" in the summary): the
# service tests keep real-time windows of seconds on real processes, which a loaded 2-core host can miss. A broken
# path fails both times.
PYTEST_ALL := $(BIN)/python -m pytest -p no:ape_test --durations=25 --reruns 1 --reruns-delay 5 tests --ignore=tests/contracts
test-python: test-shared test-solo

test-shared: setup chromium
	$(PYTEST_ALL) -n 2 --dist worksteal -m "not solo"

test-solo: setup
	$(PYTEST_ALL) -m solo

# `make test` plus the nightly end-to-end variants (every cheat on its own stack: about 8 minutes more).
test-nightly: test-contracts test-invariants chromium
	$(PYTEST_ALL) -n 2 --dist worksteal --nightly -m "not solo"
	$(PYTEST_ALL) --nightly -m solo

# The CUDA profile, on a host whose torch sees a GPU (install its CUDA build of torch first); skipped elsewhere.
test-gpu: setup
	$(BIN)/python -m pytest -p no:ape_test -rs tests/engine/test_cuda.py

bench: setup
	$(BIN)/python -m bench.run

# Gas alone (also part of `make bench`, a few minutes): every market transaction, the honest path's total, and whole
# disputes with a referee and with the operator game; merged into bench/results.json and BENCHMARKS.md.
bench-gas: setup
	$(BIN)/python -m bench.run --only-gas

# The reproducible profile's cost against the native ops alone (also part of `make bench`, ~2 minutes).
bench-repops: setup
	$(BIN)/python -m bench.repops

# The coordinator under load alone (also part of `make bench`): merged into bench/results.json and BENCHMARKS.md.
bench-load: setup
	$(BIN)/python -m bench.load

# Cost with model size alone (also part of `make bench`): GPT decoders of ~1M, 10M and 100M parameters (tens of
# minutes on 2 cores); `make bench-scale SIZES=1M` for a quick run. Merged into bench/results.json and BENCHMARKS.md.
SIZES ?= 1M,10M,100M
bench-scale: setup
	$(BIN)/python -m bench.scale --sizes $(SIZES)

# A user's 124M-parameter GPT fine-tuned end to end through pinpoint-job on a local stack (~10 minutes on 2 cores);
# its own campaign (not in `make bench`), merged into bench/results.json and BENCHMARKS.md.
bench-finetune: setup
	$(BIN)/python -m bench.finetune

# One GPT trained by 4 replicas in network namespaces over links shaped to 1 Gbit/s, 100 and 10 Mbit/s: a single
# solver, plain data parallel and rounds of int8 updates side by side (root: namespaces and tc; ~15 minutes).
bench-swarm: setup
	$(BIN)/python -m bench.swarm

clean:
	rm -rf .build .pinpoint bench/work
