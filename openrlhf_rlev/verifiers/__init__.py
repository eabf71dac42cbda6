"""Verifiers: is a response's final answer the label's answer? Each kind is one module, found through `registry`.

extract (final-answer finding, no sympy) is shared; math's slow path runs in `pool`'s killable worker processes;
judge asks an OpenAI-compatible LLM through `judge_client`. No verifier raises for any input text.
"""

from openrlhf_rlev.verifiers.registry import Check, choices, default_kind, kinds, register, verify

__all__ = ["Check", "choices", "default_kind", "kinds", "register", "verify"]
