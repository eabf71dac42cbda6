"""One response of any trainer scored safely: its verdict and `rlev/*` logs, and a rate-limited warning on failure.

Every adapter (OpenRLHF's reward file and HTTP server, TRL, verl) goes through `score_response`, so a sample gets
the same reward and logs whichever framework trains on it, and no adapter can raise into its trainer.
"""

import logging

from openrlhf_rlev.reward.core import Verdict, score
from openrlhf_rlev.reward.logs import extra_logs
from openrlhf_rlev.reward.ratelimit import RateLimitedWarner
from openrlhf_rlev.reward.reasons import INTERNAL_ERROR
from openrlhf_rlev.reward.settings import Settings

logger = logging.getLogger("openrlhf_rlev")
warner = RateLimitedWarner(logger)


def internal_error(what: str, e: Exception) -> Verdict:
    warner.warn(f"exception:{type(e).__name__}", f"{what}: {type(e).__name__}: {e}")
    return Verdict(False, 0.0, 1.0, 0.0, INTERNAL_ERROR)


def score_response(response, label, question=None, settings: Settings | None = None, found: bool = True):
    """(verdict, logs); never raises. `found` is False when an adapter could not isolate the response."""
    try:
        settings = settings or Settings.from_env()
        verdict = score(response, label, settings, question=question)
    except Exception as e:  # e.g. invalid RLEV_* settings in the environment
        verdict, found = internal_error("RLEV reward failed", e), True
    if verdict.reason:
        warner.warn(verdict.reason, f"RLEV reward 0 ({verdict.reason}); label={str(label)[:200]!r}")
    return verdict, extra_logs(verdict, found)
