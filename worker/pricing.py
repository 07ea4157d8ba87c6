"""The solver's price policy: cost-plus, capped by what the submitter escrowed.

    work  = steps x batch_size x model_size          (model_size: a rough parameter count)
    work  = inputs x model_size / 3                  (inference: one forward pass per input, no backward)
    price = max(min_price, work x wei_per_unit)
    time  = work / work_per_second                   (a deliberately slow estimate of one CPU host)

A solver bids `price` when it is at most the job's maximum price, it can run the job's execution profile,
and the execution window leaves room for the work (`seconds_for`); otherwise it stays out. Everything is in
wei; the defaults suit the local demo.
"""

from dataclasses import dataclass

from pinpoint.spec import InferenceSpec, JobSpec

GWEI = 10**9


def model_size(spec: JobSpec | InferenceSpec) -> int:
    m = spec.model
    if m.name == "mlp":
        dims = [m.input_dim] + [m.hidden_dim] * m.depth + [m.num_classes]
        return sum(a * b + b for a, b in zip(dims, dims[1:]))
    return m.layers * 12 * m.embed_dim**2 + 2 * 256 * m.embed_dim


@dataclass(frozen=True)
class PricePolicy:
    min_price: int = 10**15  # 0.001 ETH
    wei_per_unit: int = 1 * GWEI // 1000  # 1 gwei per thousand units of work
    work_per_second: int = 10**8  # about 0.6 GFLOP/s of training: slow on purpose, so windows are not cut close

    def work(self, spec: JobSpec | InferenceSpec) -> int:
        if isinstance(spec, InferenceSpec):
            return spec.inputs.count * model_size(spec) // 3
        return spec.steps * spec.batch_size * model_size(spec)

    def quote(self, spec: JobSpec | InferenceSpec) -> int:
        return max(self.min_price, self.work(spec) * self.wei_per_unit)

    def seconds_for(self, spec: JobSpec | InferenceSpec) -> int:
        """How long the whole job may take here: twice the estimate, plus a minute to start and commit."""
        return 2 * -(-self.work(spec) // self.work_per_second) + 60

    def bid_for(self, spec: JobSpec | InferenceSpec, max_price: int) -> int | None:
        """The price to bid, or None when the job does not pay enough."""
        price = self.quote(spec)
        return price if price <= max_price else None
