"""verl (verl 0.9.1): `compute_score` through verl's own loader, dataset and reward manager, `prepare --output-format
verl`, and the `rlev_grpo` estimator through verl's own `compute_advantage`, all on CPU."""

import numpy as np
import pytest
import tiny_policy  # tests/conftest.py puts tests/ on sys.path

from openrlhf_rlev.integrations import verl as rlev_verl  # noqa: E402
from openrlhf_rlev.reward.logs import KEYS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*engine is not available:UserWarning")

LABEL = {"answer": ["42"], "value": 0.05, "verifier": "math"}  # s = 1.5


def test_score_is_s_times_correct_with_acc_and_the_rlev_logs():
    out = rlev_verl.compute_score("exam", "The answer is 42.", "42", {"label": LABEL, "index": 3})
    assert out["score"] == 1.5 and out["acc"] == 1.0
    assert out["rlev/value"] == 0.05 and out["rlev/scale"] == 1.5 and out["rlev/value_x_correct"] == 0.05
    assert set(out) == {"score", "acc", *KEYS}
    assert rlev_verl.compute_score("exam", "41", "42", {"label": LABEL})["score"] == 0.0


def test_label_falls_back_to_ground_truth_and_extra_info_value():
    assert rlev_verl.compute_score("gsm8k", "#### 7", "7", {"value": 0.3})["score"] == 2.0
    assert rlev_verl.compute_score("gsm8k", "#### 7", "7", {"index": 0})["score"] == 1.0  # no value: s = 1
    assert rlev_verl.compute_score("gsm8k", "#### 7", "7")["score"] == 1.0
    label = {"answer": np.array(["A", "C"], dtype=object), "value": 0.01}  # as verl's batches carry parquet lists
    assert rlev_verl.compute_score("x", "答案：AC", None, {"label": label})["score"] == pytest.approx(1.1)


def test_never_raises_and_always_returns_the_same_keys():
    keys = {"score", "acc", *KEYS}
    for args in [(None, None, None, None), ("x", 5, object(), "no dict"), ("x", "1", "1", {"label": '{"answer": '})]:
        out = rlev_verl.compute_score(*args)
        assert set(out) == keys and out["score"] == 0.0
    assert rlev_verl.compute_score("x", "1", "1", {"label": '{"answer": '})["rlev/fail_label_malformed"] == 1.0


@pytest.fixture(scope="module")
def verl_data(tmp_path_factory):
    from openrlhf_rlev.cli.prepare import main

    root = tmp_path_factory.mktemp("verl")
    raw = tiny_policy.write_raw_exam(root / "raw.jsonl", 6)
    out = root / "train.parquet"
    argv = [str(raw), "-o", str(out), "--output-format", "verl", "--quiet", "--no-instruction"]
    argv += ["--input-key", "question", "--answer-key", "answer", "--value-key", "points", "--total-key", "total"]
    assert main(argv) == 0
    return out


def test_prepare_writes_verls_schema(verl_data):
    import pyarrow.parquet as pq

    table = pq.read_table(verl_data)
    assert set(table.column_names) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    row = table.slice(0, 1).to_pylist()[0]
    assert row["prompt"] == [{"role": "user", "content": row["prompt"][0]["content"]}]
    assert row["ability"] == "math" and row["data_source"] == "raw"
    assert row["reward_model"] == {"style": "rule", "ground_truth": row["extra_info"]["label"]["answer"][0]}
    assert row["extra_info"]["index"] == 0 and row["extra_info"]["value"] == pytest.approx(0.01)
    assert row["extra_info"]["label"]["value"] == pytest.approx(0.01)


def test_prepare_refuses_an_unknown_output_format(tmp_path):
    from openrlhf_rlev.prepare import PrepareError, PrepareOptions, prepare

    with pytest.raises(PrepareError, match="--output-format"):
        prepare(PrepareOptions(inputs=["x.jsonl"], output=str(tmp_path / "o.parquet"), output_format="nemo"))


def _reward_config():
    from omegaconf import OmegaConf

    path = "pkg://openrlhf_rlev.integrations.verl"
    return OmegaConf.create({"reward": {"custom_reward_function": {"path": path, "name": "compute_score"}}})


def test_verls_loader_dataset_and_naive_reward_manager(verl_data, byte_tokenizer):
    """The prepared parquet through verl's RLHFDataset, compute_score loaded by verl's get_custom_reward_fn, and
    scored by verl's NaiveRewardManager on token ids, as in training."""
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.workers.reward_manager import NaiveRewardManager

    config = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 256, "filter_overlong_prompts": False})
    dataset = RLHFDataset(str(verl_data), byte_tokenizer, config)
    rows = [dataset[i] for i in range(len(dataset))]
    answers = [r["extra_info"]["label"]["answer"][0] for r in rows]
    responses = [answers[0], "wrong", *answers[2:]]

    enc = lambda text: byte_tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompts = [enc(byte_tokenizer.apply_chat_template(r["raw_prompt"], add_generation_prompt=True, tokenize=False))
               for r in rows]  # fmt: skip
    width_p, width_r = max(map(len, prompts)), 8
    prompt_ids = torch.tensor([[0] * (width_p - len(p)) + p for p in prompts])
    response_ids = torch.tensor([enc(x) + [0] * (width_r - len(enc(x))) for x in responses])
    mask = torch.tensor(
        [[0] * (width_p - len(p)) + [1] * len(p) + [1] * len(enc(x)) + [0] * (width_r - len(enc(x)))
         for p, x in zip(prompts, responses)]
    )  # fmt: skip
    non_tensor = {
        k: np.array([r[k] for r in rows], dtype=object) for k in ("data_source", "reward_model", "extra_info")
    }
    data = DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask}, non_tensors=non_tensor
    )
    manager = NaiveRewardManager(byte_tokenizer, num_examine=0, compute_score=get_custom_reward_fn(_reward_config()))
    out = manager(data, return_dict=True)

    expected = [1 + min(10 * v, 1) for v in (0.01, 0.02, 0.05, 0.08, 0.15, 0.3)]
    expected[1] = 0.0
    assert out["reward_tensor"].sum(dim=-1).tolist() == pytest.approx(expected)
    assert out["reward_extra_info"]["acc"] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    assert out["reward_extra_info"]["rlev/value"] == pytest.approx([0.01, 0.02, 0.05, 0.08, 0.15, 0.3])


def _advantages(estimator, rewards, uids, norm_by_std=True):
    """Through verl's own ray_trainer.compute_advantage, one-token responses."""
    import torch
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    r = torch.tensor(rewards, dtype=torch.float32).unsqueeze(-1)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": r, "response_mask": torch.ones_like(r)},
        non_tensors={"uid": np.array(uids, dtype=object)},
    )
    config = AlgoConfig(adv_estimator=estimator, norm_adv_by_std_in_grpo=norm_by_std)
    out = compute_advantage(data, estimator, norm_adv_by_std_in_grpo=norm_by_std, config=config)
    return out.batch["advantages"][:, 0]


def test_rlev_grpo_is_registered_by_import_verl_and_keeps_s():
    import torch
    import verl  # noqa: F401  (the verl.plugins entry point registers the estimator)
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    assert get_adv_estimator_fn("rlev_grpo") is rlev_verl.rlev_grpo_advantage
    c = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    s = torch.tensor([1.5] * 4 + [2.0] * 4)
    uids = ["a"] * 4 + ["b"] * 4
    stock = _advantages("grpo", (s * c).tolist(), uids)
    kept = _advantages("rlev_grpo", (s * c).tolist(), uids)
    accuracy_only = _advantages("grpo", c.tolist(), uids)
    assert stock == pytest.approx(accuracy_only, abs=1e-5)  # verl's grpo divides s out
    groups = c.view(2, 4)
    want = s * ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-6)).reshape(-1)
    assert kept == pytest.approx(want, abs=1e-5)
    assert kept[:4] == pytest.approx(1.5 * accuracy_only[:4], abs=1e-5)


def test_rlev_grpo_edge_groups_and_dr_grpo():
    # all wrong: 0; singleton: r as in verl's grpo; shaped rewards with no positive one: stock GRPO (s = 1)
    adv = _advantages("rlev_grpo", [0, 0, 1.7, -0.2, -0.4], ["a", "a", "b", "c", "c"])
    assert adv[:3].tolist() == pytest.approx([0.0, 0.0, 1.7])
    assert adv[3:] == pytest.approx(_advantages("grpo", [-0.2, -0.4], ["c", "c"]), abs=1e-5)
    # norm_adv_by_std_in_grpo=False: r - mean r (Dr. GRPO), which keeps s
    assert _advantages("rlev_grpo", [2.0, 0.0], ["a", "a"], norm_by_std=False).tolist() == [1.0, -1.0]


def test_registration_is_idempotent():
    import verl  # noqa: F401

    assert rlev_verl.register_advantage_estimator() is rlev_verl.rlev_grpo_advantage
    assert rlev_verl.register_advantage_estimator() is rlev_verl.rlev_grpo_advantage
