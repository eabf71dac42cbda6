"""Which OpenRLHF advantage estimators keep RLEV's human value, with rewards from our real reward_func.

The rewards come from `openrlhf_rlev.integrations.openrlhf.reward_func.reward_func`, called once per sample as OpenRLHF's executor
does, and are packed into Experiences the way `samples_generator._process_response_into_experience` packs them
(reward, score and each extra_logs entry as a 1-element tensor). The advantages come from OpenRLHF's REAL
`RemoteExperienceMaker.compute_advantages_and_returns`. Stubbed via sys.modules, as in OpenRLHF's own tests
(tests/test_reward_shaping.py), only what needs the GPU stack: `deepspeed` (imported at the top of
openrlhf/models/utils.py, unused by the reward shaping), `openrlhf.models.utils` (the real file, loaded by path,
because its package __init__ imports peft) and `openrlhf.trainer.ray.launcher` (imports vllm; a type hint here).

Two prompts with the same correctness pattern, one worth s = 2 (value 0.1, alpha 10) and one s = 1 (value 0).
The value signal is the advantage gap between a correct and a wrong answer to the same prompt:

- rloo, reinforce_baseline, dr_grpo subtract a per-group baseline, which scales with s: the s = 2 group's
  advantages are 2x the s = 1 group's (reinforce_baseline then whitens the batch, a common factor);
- reinforce has no baseline and whitens the batch: advantages shift by a batch constant, but the gap is 2x;
- stock group_norm (GRPO) divides each group by its own std: s cancels, both groups get the same advantages.
  RLEV with stock GRPO is the accuracy-only baseline. `openrlhf_rlev.integrations.openrlhf.grpo` restores the 2x (last test).
"""

import os
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openrlhf")

from openrlhf_rlev.integrations.openrlhf import grpo  # noqa: E402
from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func  # noqa: E402

N = 4
PATTERN = [True, False, False, True]
PROMPT = "<|im_start|>user\nWhich option? (A) 1 (B) 2 (C) 3<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def rlev_experiences():
    """2 prompts x 4 samples, rewarded by the real reward_func with the default settings (alpha 10)."""
    from openrlhf.trainer.ppo_utils.experience import Experience

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RLEV_")}
    try:
        experiences = []
        for p, value in enumerate([0.0, 0.1]):
            label = {"answer": "B", "value": value}
            for j, correct in enumerate(PATTERN):
                response = "The answer is (B)" if correct else "The answer is (C)"
                out = reward_func([PROMPT + response + "<|im_end|>"], [PROMPT], [label])
                info = {"reward": torch.tensor([out["rewards"]]), "score": torch.tensor([out["scores"]])}
                info.update({k: torch.tensor([v]) for k, v in out["extra_logs"].items()})
                experiences.append(
                    Experience(
                        index=[p * N + j],
                        rewards=torch.tensor([out["rewards"]]),
                        scores=torch.tensor([out["scores"]]),
                        action_mask=torch.ones(1, 3, dtype=torch.bool),
                        kl=torch.zeros(1, 3),
                        values=torch.zeros(1, 3),
                        response_length=torch.tensor([3]),
                        labels=[label],
                        info=info,
                    )
                )
    finally:
        os.environ.update(saved)
    rewards = torch.cat([e.rewards for e in experiences])
    assert rewards.tolist() == [1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0]  # s = 1 and s = 2, same correctness
    return experiences


def advantages(em, experiences, estimator, patched=False):
    import copy

    maker = em.RemoteExperienceMaker.__new__(em.RemoteExperienceMaker)
    maker.advantage_estimator = estimator
    maker.kl_ctl = SimpleNamespace(value=0.0)
    maker.strategy = SimpleNamespace(
        args=SimpleNamespace(
            rollout=SimpleNamespace(n_samples_per_prompt=N),
            reward=SimpleNamespace(clip_range=(-10, 10)),
            algo=SimpleNamespace(advantage=SimpleNamespace(estimator=estimator, gamma=1.0, no_std_norm=False)),
        )
    )
    fn = em.RemoteExperienceMaker.compute_advantages_and_returns
    out = (grpo.wrap(fn) if patched else fn)(maker, copy.deepcopy(experiences))
    adv = torch.cat([e.advantages[:, 0] for e in out]).double()
    return adv[:N], adv[N:]


def gap(adv):
    correct = torch.tensor(PATTERN)
    return adv[correct].mean() - adv[~correct].mean()


@pytest.mark.parametrize("estimator", ["rloo", "reinforce_baseline", "dr_grpo"])
def test_group_baselines_keep_the_value(em, rlev_experiences, estimator):
    s1, s2 = advantages(em, rlev_experiences, estimator)
    assert s1.abs().sum() > 0
    torch.testing.assert_close(s2, 2 * s1)


@pytest.mark.parametrize("estimator", ["reinforce", "rloo", "reinforce_baseline", "dr_grpo"])
def test_value_doubles_the_correct_minus_wrong_gap(em, rlev_experiences, estimator):
    s1, s2 = advantages(em, rlev_experiences, estimator)
    assert gap(s1) > 0
    torch.testing.assert_close(gap(s2), 2 * gap(s1))


def test_stock_group_norm_erases_the_value(em, rlev_experiences):
    """The reason for openrlhf_rlev.integrations.openrlhf.grpo: (r - mean r) / std r is the same for r = c and r = 2c."""
    s1, s2 = advantages(em, rlev_experiences, "group_norm")
    assert gap(s1) > 0
    torch.testing.assert_close(s2, s1)
    torch.testing.assert_close(gap(s2), gap(s1))


def test_value_preserving_group_norm_keeps_it(em, rlev_experiences):
    s1, s2 = advantages(em, rlev_experiences, "group_norm", patched=True)
    assert gap(s1) > 0
    assert torch.equal(s2, 2 * s1)
