"""The solver's price policy: cost-plus, capped by what the submitter escrowed.

    work  = steps x batch_size x tokens per example x parameters   (training; a sequence is `context` tokens)
    work  = inputs x tokens per input x parameters / 3              (inference: one forward pass, no backward)
    price = max(min_price, work x wei_per_unit)
    time  = work / work_per_second                  (about half the rate one CPU thread trains a GPT at)

Parameters are counted exactly (pinpoint.resources.model_parameters), for every architecture a spec may name.
A solver bids `price` when it is at most the job's maximum price, it can run the job's execution profile,
the execution window leaves room for the work (`seconds_for`), and a verifier can replay an interval within
the audit's commit window (`interval_seconds`); otherwise it stays out. Everything is in wei; the defaults
suit the local demo.
"""

from dataclasses import dataclass

from pinpoint.resources import model_parameters
from pinpoint.spec import CharTransformerSpec, GPTSpec, InferenceSpec, JobSpec

GWEI = 10**9
REPRODUCIBLE_SLOWDOWN = 50
"""A step on the reproducible profile costs up to this many native steps (BENCHMARKS.md, "Reproducible profile":
2.5x at the example MLP's size, 16-45x at 256 and 1024 wide), so it is priced and timed as that much work."""


def tokens_per_example(spec: JobSpec | InferenceSpec) -> int:
    """A language model's example is a sequence of `context` tokens; a classifier's is one input."""
    return spec.model.context if isinstance(spec.model, (CharTransformerSpec, GPTSpec)) else 1


@dataclass(frozen=True)
class PricePolicy:
    min_price: int = 10**15  # 0.001 ETH
    wei_per_unit: int = 1000  # 1 gwei per million parameter-examples
    work_per_second: int = 4 * 10**9  # parameter-tokens/s: one thread trains 7.5-9e9 (BENCHMARKS.md, cost with size)

    def work(self, spec: JobSpec | InferenceSpec, steps: int | None = None) -> int:
        per_example = tokens_per_example(spec) * model_parameters(spec.model)
        if isinstance(spec, InferenceSpec):
            return spec.inputs.count * per_example // 3
        if spec.profile.ops == "reproducible":
            per_example *= REPRODUCIBLE_SLOWDOWN
        return (spec.steps if steps is None else steps) * spec.batch_size * per_example

    def quote(self, spec: JobSpec | InferenceSpec) -> int:
        return max(self.min_price, self.work(spec) * self.wei_per_unit)

    def seconds_for(self, spec: JobSpec | InferenceSpec) -> int:
        """How long the whole job may take here: twice the estimate, plus a minute to start and commit."""
        return 2 * -(-self.work(spec) // self.work_per_second) + 60

    def interval_seconds(self, spec: JobSpec | InferenceSpec) -> int:
        """How long a verifier may take to replay one interval: the estimate, plus 5 s to fetch and load."""
        return -(-self.work(spec, spec.checkpoint_interval) // self.work_per_second) + 5

    def bid_for(self, spec: JobSpec | InferenceSpec, max_price: int) -> int | None:
        """The price to bid, or None when the job does not pay enough."""
        price = self.quote(spec)
        return price if price <= max_price else None
