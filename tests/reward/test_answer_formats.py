"""Answer formats found in review: wrong answers that must get no reward, right ones that must.

A false positive here is the expensive kind: RL optimises towards it. Each case goes through `core.score`, the
function every adapter calls.
"""

import pytest

from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.settings import Settings

SETTINGS = Settings(timeout=5)

CHOICE = [
    # (response, answer, correct)
    ("Answer: A, C, and D", ["ACD"], True),  # Oxford comma keeps the last option
    ("Answer: A, C, and D", ["AC"], False),
    ("答案：A和C", ["AC"], True),
    ("Answer: A, C, or D", ["AC"], False),  # hedges are no answer
    ("Answer: A or C", ["A"], False),
    ("答案：A或C", ["A"], False),
    ("答案是A还是B", ["A"], False),
    ("The answer is A (or possibly B)", ["A"], False),
    ("I think it is A or B", ["B"], False),
    ("\\boxed{\\text{B}}", ["B"], True),  # LaTeX text wrappers inside the box
    ("\\boxed{\\textbf{(C)}}", ["C"], True),
    ("\\boxed{\\mathrm{C}}", ["C"], True),
    ("\\boxed{\\text{A}}", ["C"], False),
    ("故选 B", ["B"], True),
    ("所以正确答案为：A。", ["A"], True),
    ("Answer: A", ["AC"], False),  # an incomplete multi-select is wrong for the reward
]


@pytest.mark.parametrize("response,answer,correct", CHOICE)
def test_choice_formats(response, answer, correct):
    verdict = score(response, {"answer": answer, "value": 0.05}, SETTINGS)
    assert verdict.correct is correct and verdict.reason is None
    assert verdict.reward == (1.5 if correct else 0.0)


PARTS = [
    ("\\boxed{(1,2); 3}", ["(1,2)", "3"], True),  # a pair inside one part
    ("\\boxed{1,000; 3}", ["1000", "3"], True),  # a thousands separator inside one part
    ("\\boxed{(1,2), 3}", ["(1,2)", "3"], True),  # commas outside brackets still separate
    ("\\boxed{3, 5}", ["3", "5"], True),
    ("\\boxed{3; 4}", ["3", "5"], False),
    ("\\boxed{5; 3}", ["3", "5"], False),  # parts are ordered
]


@pytest.mark.parametrize("response,answer,correct", PARTS)
def test_multi_part_math_answers(response, answer, correct):
    assert score(response, {"answer": answer, "value": 0.05, "verifier": "math"}, SETTINGS).correct is correct
