"""The solver's price policy: cost-plus, capped by what the submitter escrowed.

    work  = steps x batch_size x model_size          (model_size: a rough parameter count)
    work  = inputs x model_size / 3                  (inference: one forward pass per input, no backward)
    price = max(min_price, work x wei_per_unit)

A solver bids `price` when it is at most the job's maximum price and it can run the job's execution
profile; otherwise it stays out. Everything is in wei; the defaults suit the local demo.
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

    def quote(self, spec: JobSpec | InferenceSpec) -> int:
        if isinstance(spec, InferenceSpec):
            work = spec.inputs.count * model_size(spec) // 3
        else:
            work = spec.steps * spec.batch_size * model_size(spec)
        return max(self.min_price, work * self.wei_per_unit)

    def bid_for(self, spec: JobSpec | InferenceSpec, max_price: int) -> int | None:
        """The price to bid, or None when the job does not pay enough."""
        price = self.quote(spec)
        return price if price <= max_price else None
