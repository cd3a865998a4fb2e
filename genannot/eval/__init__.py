"""Accuracy metrics (eval_prok, eval_euk) and the `genannot eval` reports."""

from genannot.eval.metrics import eval_euk, eval_prok

__all__ = ["eval_euk", "eval_prok"]
