"""The OpenRLHF reward file: `--reward.remote_url $(openrlhf-rlev reward-path)`.

OpenRLHF (0.10.2-0.11.x) loads this file by path (not as a package module, so imports here are absolute) and
calls `reward_func([query], [prompt], [label])` once per sample from a thread pool. Any exception it
sees is swallowed and later crashes the run, so this adapter never raises.
"""

from openrlhf_rlev.integrations.openrlhf.query import payload, score_query
from openrlhf_rlev.reward.sample import warner as _warner
from openrlhf_rlev.reward.settings import Settings


def reward_func(queries, prompts, labels, **kwargs):
    """Floats for OpenRLHF's one-sample calls; lists if called with a batch."""
    try:
        settings = Settings.from_env()  # once per call; cached on the environment's RLEV_* values
    except Exception:  # invalid RLEV_* settings: every sample reports it (internal_error) through score_query
        settings = None
    try:
        n = len(queries)
        prompts = (list(prompts) if prompts is not None else []) + [None] * n
        labels = (list(labels) if labels is not None else []) + [None] * n
        results = [score_query(queries[i], prompts[i], labels[i], settings) for i in range(n)]
    except Exception as e:
        _warner.warn("bad_call", f"RLEV reward_func called with unusable arguments: {type(e).__name__}: {e}")
        results = []
    if not results:
        results = [score_query(None, None, None)]
    return payload(results)


def _prestart_when_loaded_by_openrlhf() -> None:
    """OpenRLHF loads this file as module "reward_func" once per vLLM engine: start the verifier workers now, while
    the engine warms up, instead of on the first sympy-bound sample. Imported as a package module: do nothing."""
    if __name__ != "reward_func":
        return
    try:
        from openrlhf_rlev.verifiers import pool

        if pool.prestart_off():  # the launcher checking the file in the driver: no workers, no settings warning
            return
        pool.prestart(Settings.from_env().verify_workers)
    except Exception as e:  # bad settings are reported per sample; never fail the engine's start
        _warner.warn("prestart", f"RLEV verifier workers not prestarted: {type(e).__name__}: {e}")
    try:
        from openrlhf_rlev.integrations.openrlhf import plain_route

        plain_route.warn_when_loaded()  # stock group_norm without the setup hook: say that s(x) cancels
    except Exception as e:
        _warner.warn("plain_route", f"RLEV could not check the estimator: {type(e).__name__}: {e}")


_prestart_when_loaded_by_openrlhf()
