"""OpenRLHF's reward protocol, shared by the reward file and the HTTP server: a sample arrives as `query` (prompt +
response), `prompt` and `label`; results go back as `rewards`, `scores` and `extra_logs`."""

from openrlhf_rlev.integrations.openrlhf.response import recover_response
from openrlhf_rlev.reward.core import Verdict
from openrlhf_rlev.reward.logs import extra_logs
from openrlhf_rlev.reward.sample import internal_error, score_response
from openrlhf_rlev.reward.settings import Settings


def score_query(query, prompt, label, settings: Settings | None = None) -> tuple[Verdict, dict]:
    """Recover the response from prompt + response, then `score_response`; never raises."""
    response, found = query, True
    question = prompt if isinstance(prompt, str) else None
    if isinstance(query, str):
        try:
            response, found = recover_response(query, question)
        except Exception as e:  # never score prompt + response as if it were the response
            verdict = internal_error("RLEV response recovery failed", e)
            return verdict, extra_logs(verdict, True)
    return score_response(response, label, question, settings, found)


def payload(results: list) -> dict:
    """(verdict, logs) pairs -> what OpenRLHF reads (see `reply`).

    `scores` (1 correct, 0 not) is what OpenRLHF's dynamic filtering reads. s(x) travels in `extra_logs` as
    `rlev/scale`, which is what an OpenRLHF with the upstream change in patches/ weights group_norm by
    (`--algo.advantage.weight_key rlev/scale`) and what the plugin's own GRPO wrapper reads."""
    return reply(
        [v.reward for v, _ in results], [1.0 if v.correct else 0.0 for v, _ in results], [g for _, g in results]
    )


def reply(rewards: list, scores: list, logs: list[dict]) -> dict:
    """Per-sample rewards, scores and extra_logs dicts (the same keys in each) -> OpenRLHF's return shape: floats for
    its one-sample calls, lists for a batch."""
    one = len(rewards) == 1

    def column(values: list):
        return values[0] if one else values

    return {
        "rewards": column(rewards),
        "scores": column(scores),
        "extra_logs": {k: column([log[k] for log in logs]) for k in (logs[0] if logs else ())},
    }
