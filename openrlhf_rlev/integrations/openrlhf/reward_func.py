"""The OpenRLHF reward file: `--reward.remote_url $(openrlhf-rlev reward-path)`.

OpenRLHF 0.11.2 loads this file by path (not as a package module, so imports here are absolute) and
calls `reward_func([query], [prompt], [label])` once per sample from a thread pool. Any exception it
sees is swallowed and later crashes the run, so this adapter never raises.
"""

import logging

from openrlhf_rlev.core import Verdict, score
from openrlhf_rlev.extra_logs import extra_logs
from openrlhf_rlev.ratelimit import RateLimitedWarner
from openrlhf_rlev.reasons import INTERNAL_ERROR
from openrlhf_rlev.response import recover_response
from openrlhf_rlev.settings import Settings

logger = logging.getLogger("openrlhf_rlev")
_warner = RateLimitedWarner(logger)


def score_query(query, prompt, label, settings: Settings | None = None) -> tuple[Verdict, dict]:
    """One OpenRLHF sample: recover the response from prompt + response, then `score_response`."""
    response, found = query, True
    if isinstance(query, str):
        try:
            response, found = recover_response(query, prompt if isinstance(prompt, str) else None)
        except Exception as e:  # never score prompt + response as if it were the response
            verdict = _internal_error("RLEV response recovery failed", e)
            return verdict, extra_logs(verdict, True)
    return score_response(response, label, prompt if isinstance(prompt, str) else None, settings, found)


def _internal_error(what: str, e: Exception) -> Verdict:
    _warner.warn(f"exception:{type(e).__name__}", f"{what}: {type(e).__name__}: {e}")
    return Verdict(False, 0.0, 1.0, 0.0, INTERNAL_ERROR)


def score_response(response, label, question=None, settings: Settings | None = None, found: bool = True):
    """One response of any framework: its verdict and `rlev/*` logs, a rate-limited warning on failure. Never
    raises (TRL's and verl's adapters call this too, so every framework gets the same reward and logs)."""
    try:
        settings = settings or Settings.from_env()
        verdict = score(response, label, settings, question=question)
    except Exception as e:  # e.g. invalid RLEV_* settings in the environment
        verdict, found = _internal_error("RLEV reward failed", e), True
    if verdict.reason:
        _warner.warn(verdict.reason, f"RLEV reward 0 ({verdict.reason}); label={str(label)[:200]!r}")
    return verdict, extra_logs(verdict, found)


def reward_func(queries, prompts, labels, **kwargs):
    """Floats for OpenRLHF's one-sample calls; lists if called with a batch."""
    try:
        n = len(queries)
        prompts = (list(prompts) if prompts is not None else []) + [None] * n
        labels = (list(labels) if labels is not None else []) + [None] * n
        results = [score_query(queries[i], prompts[i], labels[i]) for i in range(n)]
    except Exception as e:
        _warner.warn("bad_call", f"RLEV reward_func called with unusable arguments: {type(e).__name__}: {e}")
        results = []
    if not results:
        results = [score_query(None, None, None)]
    rewards = [v.reward for v, _ in results]
    scores = [1.0 if v.correct else 0.0 for v, _ in results]
    logs = {k: [log[k] for _, log in results] for k in results[0][1]}
    if len(results) == 1:
        return {"rewards": rewards[0], "scores": scores[0], "extra_logs": {k: v[0] for k, v in logs.items()}}
    return {"rewards": rewards, "scores": scores, "extra_logs": logs}


def _prestart_when_loaded_by_openrlhf() -> None:
    """OpenRLHF loads this file as module "reward_func" once per vLLM engine: start the verifier workers now, while
    the engine warms up, instead of on the first sympy-bound sample. Imported as a package module: do nothing."""
    if __name__ != "reward_func":
        return
    try:
        from openrlhf_rlev.verifiers import pool

        pool.prestart(Settings.from_env().verify_workers)
    except Exception as e:  # bad settings are reported per sample; never fail the engine's start
        _warner.warn("prestart", f"RLEV verifier workers not prestarted: {type(e).__name__}: {e}")


_prestart_when_loaded_by_openrlhf()
