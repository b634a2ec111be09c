"""evaluate: policies, rollouts, the results store and sim-real correlation."""

from evaluate.errors import EvaluateError

__all__ = ["EvaluateError"]
