"""TRL (trl 1.16.0): the RLEV reward behind GRPOTrainer's reward-function signature, the prepared dataset as TRL
reads it, value-keeping GRPO, and real GRPOTrainer runs on CPU (slow)."""

import pytest
import tiny_policy  # tests/conftest.py puts tests/ on sys.path

from openrlhf_rlev.integrations import trl as rlev_trl  # noqa: E402

LABEL = {"answer": "42", "value": 0.05}  # s = 1 + min(10 * 0.05, 1) = 1.5


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_rewards_are_s_times_correct_for_strings_and_chat_messages():
    rewards = rlev_trl.rlev_reward(
        prompts=["What is 6*7?", [{"role": "user", "content": "What is 6*7?"}]] * 2,
        completions=["The answer is 42.", chat("The answer is 42."), "41", chat("41")],
        label=[LABEL, LABEL, LABEL, LABEL],
    )
    assert rewards == [1.5, 1.5, 0.0, 0.0]


def test_label_as_json_string_and_label_scale():
    rewards = rlev_trl.rlev_reward(
        prompts=["q", "q"],
        completions=["42", "42"],
        label=['{"answer": "42", "value": 0.3}', {"answer": "42", "scale": 3.0}],
    )
    assert rewards == [2.0, 3.0]


def test_never_raises_and_returns_one_reward_per_completion():
    assert rlev_trl.rlev_reward(prompts=None, completions=[None, 5, chat(None), [{"x": 1}]], label=None) == [0.0] * 4
    assert rlev_trl.rlev_reward(prompts=["q"], completions=["42"], label=[{"value": 2}]) == [0.0]
    assert rlev_trl.rlev_reward(completions=None) == []
    assert rlev_trl.rlev_reward(prompts=["q"], completions=["42"], label=[LABEL], log_metric="not callable") == [1.5]


def test_logs_acc_and_h_acc_through_trls_hooks():
    metrics, columns = {}, {}
    labels = [{"answer": "1", "value": 0.1}, {"answer": "1", "value": 0.3}, {"answer": "1", "value": 0.0}]
    rlev_trl.rlev_reward(
        prompts=["q"] * 3,
        completions=["1", "2", "1"],
        label=labels,
        log_metric=lambda name, value: metrics.setdefault(name, value),
        log_extra=lambda column, values: columns.setdefault(column, values),
    )
    assert metrics["rlev/correct"] == pytest.approx(2 / 3)  # Acc
    assert metrics["rlev/h_acc"] == pytest.approx(0.1 / 0.4)  # sum(v c) / sum(v)
    assert metrics["rlev/scale"] == pytest.approx((2.0 + 2.0 + 1.0) / 3)
    assert metrics["rlev/fail_label_malformed"] == 0.0
    assert columns == {"rlev/value": [0.1, 0.3, 0.0], "rlev/correct": [1.0, 0.0, 1.0]}


def test_a_failing_log_hook_does_not_cost_the_rewards():
    def broken(*args):
        raise RuntimeError("boom")

    assert rlev_trl.rlev_reward(prompts=["q"], completions=["42"], label=[LABEL], log_metric=broken) == [1.5]


def test_message_text():
    assert rlev_trl.message_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert rlev_trl.message_text([{"role": "user", "content": "q"}], "user") == "q"
    parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "4"}, {"type": "image"}, {"type": "text", "text": "2"}],
        }
    ]
    assert rlev_trl.message_text(parts) == "42"
    assert rlev_trl.message_text([]) is None and rlev_trl.message_text(3) is None


def test_batch_metrics_without_values_has_no_h_acc():
    logs = [{"rlev/correct": 1.0, "rlev/value": 0.0, "rlev/value_x_correct": 0.0}]
    assert rlev_trl.batch_metrics(logs) == {"rlev/correct": 1.0, "rlev/value": 0.0, "rlev/value_x_correct": 0.0}
    assert rlev_trl.batch_metrics([]) == {}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_prepared_dataset_loads_in_trl_unchanged(tmp_path, byte_tokenizer, suffix):
    from datasets import load_dataset
    from trl.data_utils import is_conversational

    data = tiny_policy.prepare_exam(tiny_policy.write_raw_exam(tmp_path / "raw.jsonl", 6), tmp_path / f"d{suffix}")
    ds = load_dataset(suffix.lstrip(".").replace("jsonl", "json"), data_files=str(data), split="train")
    row = ds[0]
    assert is_conversational(row)
    # GRPOTrainer templates the prompt column alone with the tokenizer (TRL's data_utils.apply_chat_template would
    # take a `label` column for KTO's unpaired-preference label; GRPOTrainer does not call it on rows).
    text = byte_tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    assert "Question 0: reply with the digit" in text and text.endswith("assistant\n")
    answers = [r["label"]["answer"][0] for r in ds]
    # As GRPOTrainer calls a reward function: every column but prompt/completion, as lists.
    rewards = rlev_trl.rlev_reward(prompts=ds["prompt"], completions=[chat(a) for a in answers], label=ds["label"])
    assert rewards == pytest.approx([1 + min(10 * v, 1) for v in (0.01, 0.02, 0.05, 0.08, 0.15, 0.3)])


def test_value_keeping_advantages_multiply_by_s():
    import torch

    from openrlhf_rlev.reward.settings import Settings

    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    labels = [{"answer": "1", "value": 0.05}] * 2 + [{"answer": "1"}, {"answer": "1", "scale": 3.0}]
    out = rlev_trl.value_keeping_advantages(adv, labels, Settings())
    assert out.tolist() == [1.5, -1.5, 0.5, -1.5]
    assert rlev_trl.value_keeping_advantages(adv, labels, Settings(scaling="none"))[:2].tolist() == [1.0, -1.0]


# ── real GRPOTrainer runs on CPU ──

BATCH = 16  # 4 prompts x 4 generations per step


@pytest.fixture(scope="module")
def trl_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("trl")
    model = tiny_policy.build(root / "tiny")
    data = tiny_policy.prepare_exam(tiny_policy.write_raw_exam(root / "raw.jsonl", 8), root / "train.jsonl")
    return root, model, data


def train_trl(trl_setup, monkeypatch, name, scale_rewards, scaling, trainer="GRPOTrainer"):
    """Two GRPO steps; returns (final weights, log history). SGD, so an update is lr times the gradient."""
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    root, model_dir, data = trl_setup
    monkeypatch.setenv("RLEV_SCALING", scaling)
    args = GRPOConfig(
        output_dir=str(root / name), per_device_train_batch_size=BATCH, num_generations=4, max_completion_length=8,
        max_steps=2, learning_rate=0.05, optim="sgd", lr_scheduler_type="constant", use_cpu=True, bf16=False,
        report_to="none", logging_steps=1, save_strategy="no", seed=0, scale_rewards=scale_rewards,
        disable_tqdm=True, shuffle_dataset=False,
    )  # fmt: skip
    cls = rlev_trl.RLEVGRPOTrainer if trainer == "RLEVGRPOTrainer" else GRPOTrainer
    run = cls(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        reward_funcs=[rlev_trl.rlev_reward],
        args=args,
        train_dataset=load_dataset("json", data_files=str(data), split="train"),
    )
    run.train()
    return {k: v.detach().clone() for k, v in run.model.state_dict().items()}, run.state.log_history


def max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def trl_runs(trl_setup):
    cache = {}
    mp = pytest.MonkeyPatch()

    def get(*key):
        if key not in cache:
            cache[key] = train_trl(trl_setup, mp, "_".join(key), *key)
        return cache[key]

    yield get
    mp.undo()


@pytest.mark.slow
def test_grpo_trainer_trains_with_the_rlev_reward_and_logs_acc_and_h_acc(trl_setup, trl_runs):
    from transformers import AutoModelForCausalLM

    weights, history = trl_runs("none", "rlev")
    initial = AutoModelForCausalLM.from_pretrained(trl_setup[1]).state_dict()
    assert max_diff(weights, initial) > 0
    steps = [h for h in history if "rlev/correct" in h]
    assert len(steps) == 2
    assert steps[0]["rlev/correct"] > 0 and steps[0]["frac_reward_zero_std"] < 1  # mixed groups: a real update
    for h in steps:  # one reward call per step: H-Acc is exactly mean(v c) / mean(v) of the step
        assert h["rlev/h_acc"] == pytest.approx(h["rlev/value_x_correct"] / h["rlev/value"])
        assert h["rewards/rlev_reward/mean"] == pytest.approx(h["reward"])


@pytest.mark.slow
def test_value_changes_the_update_when_scale_rewards_keeps_it(trl_runs):
    """scale_rewards="none" (Dr. GRPO): the same seed samples the same first step, so a different result can only
    come from the reward's s(x)."""
    (rlev, _), (none, _) = trl_runs("none", "rlev"), trl_runs("none", "none")
    assert max_diff(rlev, none) > 1e-4


@pytest.mark.slow
def test_trls_default_group_scaling_cancels_the_value_and_rlev_grpo_trainer_keeps_it(trl_setup, trl_runs):
    from transformers import AutoModelForCausalLM

    initial = AutoModelForCausalLM.from_pretrained(trl_setup[1]).state_dict()
    (accuracy_only, _), (stock_rlev, _) = trl_runs("group", "none"), trl_runs("group", "rlev")
    (value_kept, _), (value_kept_s1, _) = (
        trl_runs("group", "rlev", "RLEVGRPOTrainer"),
        trl_runs("group", "none", "RLEVGRPOTrainer"),
    )
    update = max_diff(accuracy_only, initial)
    assert max_diff(stock_rlev, accuracy_only) < 0.01 * update  # s divided out (up to TRL's eps of 1e-4)
    assert max_diff(value_kept, accuracy_only) > 0.1 * update  # s back in the advantage
    assert max_diff(value_kept_s1, accuracy_only) == 0  # with s = 1 the subclass changes nothing
