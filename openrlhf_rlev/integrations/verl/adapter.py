"""RLEV for verl (tested with verl 0.9.1): the reward, and GRPO that keeps s(x).

Reward: `reward.custom_reward_function.path=pkg://openrlhf_rlev.integrations.verl` with `name=compute_score`.
It is the OpenRLHF reward (`reward.sample.score_response`: same core, verifier pool with its hard timeout,
rate-limited warnings, never raises) behind verl's signature, returning `score` = s(x)·c, `acc` = c (verl
reports `acc` as its core validation metric) and the `rlev/*` logs, which verl keeps in `reward_extra_info`.

Advantage: `algorithm.adv_estimator=rlev_grpo`. verl's `grpo` (with `norm_adv_by_std_in_grpo=True`, the default)
divides each group by its std and cancels s(x). verl hands a registered estimator only the token rewards and the
group index, not the labels, so `rlev_grpo` reads s from the rewards: with pure RLEV rewards every correct sample
of a group earns s and every wrong one 0, so s = the group's largest reward and c = r / s. `plugin`
registers it in every process that imports verl.
"""

from openrlhf_rlev.reward.sample import score_response

__all__ = ["compute_score", "label_from_verl", "rlev_grpo_advantage", "register_advantage_estimator", "ESTIMATOR"]

ESTIMATOR = "rlev_grpo"
EPS = 1e-6  # verl 0.9.1's GRPO epsilon


def _plain(x):
    """numpy arrays (how verl's batches carry parquet lists) as lists, inside dicts too."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x.tolist() if hasattr(x, "tolist") and not isinstance(x, (str, bytes)) else x


def label_from_verl(ground_truth, extra_info) -> object:
    """`extra_info["label"]` when present (what `prepare --output-format verl` writes), else `ground_truth` as the
    answer with `extra_info["value"]` (if any) as v(x): verl's own data plus a value column."""
    extra = extra_info if isinstance(extra_info, dict) else {}
    if extra.get("label") is not None:
        return _plain(extra["label"])
    value = extra.get("value")
    answer = _plain(ground_truth)
    return {"answer": answer} if value is None else {"answer": answer, "value": _plain(value)}


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, **kwargs) -> dict:
    """verl's custom reward: {"score": s·c, "acc": c, "rlev/...": ...}; the same keys for every sample. Never raises."""
    try:
        label = label_from_verl(ground_truth, extra_info)
    except Exception:  # a label that cannot even be read scores as malformed in the core
        label = None
    verdict, logs = score_response(solution_str, label)
    return {"score": float(verdict.reward), "acc": 1.0 if verdict.correct else 0.0, **logs}


def rlev_grpo_advantage(token_level_rewards, response_mask, index, epsilon: float = EPS, config=None, **kwargs):
    """A = s·(c − mean c)/(std c + eps) per group, with s the group's largest reward and c = r/s.

    Pure RLEV rewards make this exact. With shaping (verl's overlong penalty, a format bonus) s is the largest
    shaped reward, so c is "reward in units of the best sample"; a group with no positive reward uses s = 1,
    i.e. stock GRPO. `algorithm.norm_adv_by_std_in_grpo=False` gives r − mean r (Dr. GRPO), which keeps s as is.
    Singleton groups get A = r, as in verl's grpo. Same std (unbiased) and epsilon as verl's grpo.
    """
    import torch

    scores = token_level_rewards.sum(dim=-1)
    norm_by_std = _config_get(config, "norm_adv_by_std_in_grpo", True)
    advantages = torch.zeros_like(scores)
    groups: dict = {}
    for i, key in enumerate(index):
        groups.setdefault(key, []).append(i)
    with torch.no_grad():
        for rows in groups.values():
            r = scores[rows]
            if len(rows) == 1:
                advantages[rows] = r
            elif not norm_by_std:
                advantages[rows] = r - r.mean()
            else:
                s = r.max() if r.max() > 0 else torch.ones((), dtype=r.dtype)
                c = r / s
                advantages[rows] = s * (c - c.mean()) / (c.std() + epsilon)
    advantages = advantages.unsqueeze(-1) * response_mask
    return advantages, advantages


def _config_get(config, key, default):
    if config is None:
        return default
    getter = getattr(config, "get", None)
    return getter(key, default) if callable(getter) else getattr(config, key, default)


def register_advantage_estimator(name: str = ESTIMATOR):
    """Put `rlev_grpo_advantage` in verl's estimator registry (idempotent, also across copies of this module)."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est

    present = ADV_ESTIMATOR_REGISTRY.get(name)
    if present is None or getattr(present, "__qualname__", None) != rlev_grpo_advantage.__qualname__:
        register_adv_est(name)(rlev_grpo_advantage)
    return ADV_ESTIMATOR_REGISTRY[name]
