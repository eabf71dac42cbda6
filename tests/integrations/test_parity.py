"""One reward everywhere: the same label and response give the same reward and `rlev/*` logs through OpenRLHF's
reward file, TRL's reward function and verl's compute_score."""

import subprocess
import sys

import pytest

from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.integrations.trl import rlev_reward
from openrlhf_rlev.integrations.verl import compute_score

PROMPT = "<|im_start|>user\nQuestion?<|im_end|>\n<|im_start|>assistant\n"
CASES = [
    ("The answer is 42.", {"answer": "42", "value": 0.05}, 1.5),
    ("\\boxed{\\frac{1}{2}}", {"answer": ["0.5"], "value": 0.2, "verifier": "math"}, 2.0),
    ("答案：AC", {"answer": ["A", "C"], "value": 0.01}, 1.1),
    ("B", '{"answer": "C", "value": 0.3}', 0.0),
    ("42", {"answer": "42", "scale": 3.0}, 3.0),
    ("42", {"answer": "42", "value": 7}, 0.0),  # bad value: 0 with a reason
    ("42", "42", 1.0),  # a plain answer: s = 1
]


@pytest.mark.parametrize("response, label, reward", CASES)
def test_openrlhf_trl_and_verl_give_the_same_reward_and_logs(response, label, reward):
    openrlhf = reward_func([PROMPT + response + "<|im_end|>"], [PROMPT], [label])
    assert openrlhf["rewards"] == pytest.approx(reward)
    trl = rlev_reward(prompts=[[{"role": "user", "content": "Question?"}]], completions=[response], label=[label])
    verl = compute_score("exam", response, None, {"label": label})
    assert trl == [openrlhf["rewards"]]
    assert verl["score"] == openrlhf["rewards"] and verl["acc"] == openrlhf["scores"]
    assert {k: v for k, v in verl.items() if k.startswith("rlev/")} == openrlhf["extra_logs"]


def test_verls_ground_truth_form_matches_the_label_form():
    label = {"answer": "42", "value": 0.05}
    assert compute_score("x", "42", "42", {"value": 0.05}) == compute_score("x", "42", None, {"label": label})


@pytest.mark.parametrize(
    "framework, name, call",
    [
        (
            "trl",
            "rlev_reward",
            "rlev_reward(prompts=['q'], completions=['42'], label=[{'answer': '42', 'value': 0.05}])[0]",
        ),
        ("verl", "compute_score", "compute_score('x', '42', '42', {'value': 0.05})['score']"),
    ],
)
def test_the_reward_imports_and_runs_without_torch_or_its_framework(framework, name, call):
    code = (
        f"import sys; sys.modules['torch'] = None; sys.modules['{framework}'] = None\n"
        f"from openrlhf_rlev.integrations.{framework} import {name}\n"
        f"print({call})\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.5"
