"""The reward credits the answer a response gives, never a letter or number it merely mentions (issue 15).

One test per gaming category: each asserts through `core.score` (the call every adapter makes), with reasons as
plain strings, so the same file runs against the code before the fix and fails there on each category. Real
verifiers throughout: math-verify runs in the real worker pool where the fast paths cannot decide.
"""

import json
import os

import pytest

from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.labels import LabelError, parse_label
from openrlhf_rlev.reward.logs import extra_logs
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import pool

LENIENT = Settings(timeout=3.0, verify_workers=1)


def strict() -> Settings:
    return Settings(timeout=3.0, verify_workers=1, answer_format="strict")


@pytest.fixture(scope="module", autouse=True)
def _stop_workers():
    yield
    pool.shutdown()


def verdict(response, label, settings=LENIENT):
    v = score(response, label, settings)
    return v.correct, v.reward, v.reason


# ---- 1. option lists: restating the options names no answer --------------------------------------

OPTION_LISTS = [
    "A. A\nB. B\nC. C\nD. D",  # the example: reward 2.0 before
    "A. 3\nB. 4\nC. 5\nD. 6",
    "The options are:\nA) 12\nB) 15\nC) 18\nD) 21",
    "A. 是 B. 否 C. 不确定 D. 都对",  # inline, Chinese
    "Answer: A. 3 B. 4 C. 5 D. 6",  # a marker followed by the whole list
    "答案：ABCD",  # every option named
    "The answer is A, B, C, D.",
    "\\boxed{ABCD}",
]


@pytest.mark.parametrize("response", OPTION_LISTS)
@pytest.mark.parametrize("gold", ["A", "D"])
def test_option_lists_and_every_option_earn_nothing_with_their_own_reason(response, gold):
    assert verdict(response, {"answer": [gold], "value": 0.333}) == (False, 0.0, "options_listed")


# Options printed as GAOKAO prints them ("A．3", the text right after the dot: 1,262 of its options), inline with no
# words (read as a bare answer before), or on the lines after a marker (the marker's first letter was the answer).
MORE_OPTION_LISTS = [
    "A．3 B．4 C．5 D．6",
    "A. 3 B. 4 C. 5 D. 6",
    "A.3\nB.4\nC.5\nD.6",
    "Answer:\nA. 3\nB. 4\nC. 5\nD. 6",
    "Answer: A. 3\nB. 4\nC. 5\nD. 6",
    "The answer is\n(A) 3\n(B) 4\n(C) 5\n(D) 6",
    "答案：\nA．3\nB．4\nC．5\nD．6",
    "Answer: A\nB\nC\nD",
]


# Lenient mode reads a guess from the last line: lists of bare letters, or a line naming three or more, name none.
LENIENT_OPTION_LISTS = [
    "A\nB\nC\nD",
    "- A\n- B\n- C\n- D",
    "1. A\n2. B\n3. C\n4. D",
    "The options are A, B, C and D.",
    "Option A, option B, option C, option D",
]


@pytest.mark.parametrize("response", LENIENT_OPTION_LISTS)
@pytest.mark.parametrize("gold", ["A", "D"])
def test_bare_letter_lists_earn_nothing_in_lenient_mode(response, gold):
    assert verdict(response, {"answer": [gold], "value": 0.333}) == (False, 0.0, "options_listed")


@pytest.mark.parametrize("response", MORE_OPTION_LISTS)
@pytest.mark.parametrize("gold", ["A", "D"])
def test_option_lists_in_every_print_earn_nothing_in_strict_mode(response, gold):
    assert verdict(response, {"answer": [gold], "value": 0.333}, strict()) == (False, 0.0, "options_listed")


@pytest.mark.parametrize(
    "response",
    [
        "Answer: D\nA. 3 is too small\nB. 4 is too small\nC. 5 is too small",
        "Answer: D\n\nA: wrong\nB: wrong\nC: wrong",
        "答案：D\nA项：错误\nB项：错误\nC项：错误",
        "The answer is (D).\nA. 3 is too small",
    ],
)
def test_a_marked_letter_keeps_its_reward_when_the_next_lines_discuss_other_options(response):
    # The letter group after a marker used to run on across the line break: "D\nA" read as {A, D}, reward 0.
    assert verdict(response, {"answer": ["D"], "value": 0.333}, strict()) == (True, 2.0, None)


DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "data", "demo_credited_before.jsonl")


def test_real_demo_responses_that_only_restate_the_options_earn_nothing():
    """The 11 real SmolLM2-135M responses of the default demo that the old reward credited (2.0 for the 0.333 ones);
    the answer each states was read by hand: 7 restate the option list, 1 repeats 'A．①③', 3 state A."""
    with open(DEMO, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 11
    for r in rows:
        v = score(r["response"], {"answer": r["answer"], "value": r["value_then"]}, strict())
        assert v.correct is (r["stated"] == r["answer"][0]), r["response"][-80:]
    listed = [r for r in rows if score(r["response"], {"answer": r["answer"]}, LENIENT).reason == "options_listed"]
    assert len(listed) == 7


@pytest.mark.parametrize(
    "response, gold",
    [
        ("答案：AC", "AC"),
        ("答案：A 和 C", "AC"),
        ("The answer is A, C.", "AC"),
        ("故选 A、C、D", "ACD"),
        ("\\boxed{B, D}", "BD"),
        ("答案：ABCD", "ABCD"),  # the gold itself is every option: naming them is the answer
    ],
)
def test_real_multi_select_answers_keep_working(response, gold):
    assert verdict(response, {"answer": [gold], "value": 0.1}) == (True, 2.0, None)


def test_multi_question_labels_are_read_per_question():
    label = {"answer": ["C", "F", "A"], "value": 0.05}
    assert verdict("答案：C F A", label)[0]
    assert verdict("(1)【答案】C\n(2)【答案】F\n(3)【答案】A", label)[0]
    assert not verdict("答案：C F B", label)[0]


# ---- 2. the answer span: what follows an answer never changes the verdict ----------------------


@pytest.mark.parametrize(
    "response, right, wrong",
    [
        ("The answer is 15. This took me 3 tries.", "15", "3"),
        ("The answer is 15, which I checked 2 times.", "15", "2"),
        ("Final answer: 15 (I am 90% sure)", "15", "90"),
        ("Answer: 15 because 5 * 3 = 15 and 4 is wrong", "15", "4"),
        ("答案是15，因为我算了3次。", "15", "3"),
        ("故答案为：$\\frac{1}{2}$，验算 2 次。", "\\frac{1}{2}", "2"),
        ("The answer is $7$. Step count: 4.", "7", "4"),
        ("#### 72\nI used 3 steps.", "72", "3"),
        # the last marker wins: a later one revises
        ("\\boxed{5}\nWait, I made an error. Final answer: 6", "6", "5"),
        ("The answer is 5.\nNo: the answer is 6.", "6", "5"),
        ("答案是 B。\n重新检查后，答案是 C。", "C", "B"),
    ],
)
def test_the_answer_is_the_last_markers_first_complete_answer(response, right, wrong):
    assert verdict(response, right)[0] is True
    assert verdict(response, wrong)[0] is False


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{15}\nI hope this answer is helpful!",
        "\\boxed{15}\n\nNote: the answer is an integer.",
        "The answer is 15. I verified this answer is correct.",
        "Final answer: 15\nCheck: the answer is consistent with the constraints.",
        "So the answer is 15.\nTo double-check, the answer is indeed 15.",
        "答案：15\n检验：答案是正确的。",
    ],
)
def test_a_remark_about_the_answer_after_it_is_not_a_revision(response):
    # "answer is" in a closing remark was read as the last marker, and a correct (even boxed) answer scored 0.
    assert verdict(response, {"answer": "15", "value": 0.1}, strict()) == (True, 2.0, None)


def test_a_real_revision_still_wins_over_a_remark():
    assert not verdict("\\boxed{15}\nWait, that's wrong. The answer is not 15.", {"answer": "15"}, strict())[0]
    assert verdict("Answer: 12\nNo wait, the answer is 15. I hope this answer is helpful.", {"answer": "15"})[0]


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is 15 in total.", "15"),
        ("The answer is 15 years old.", "15"),
        ("The answer is 15 for part (a).", "15"),
        ("The answer is 15 when x = 2.", "15"),
        ("The answer is 15: Tom has 15 apples.", "15"),
        ("The answer is 15 as computed above.", "15"),
        ("The answer is 3/4 of the total.", "\\frac34"),
    ],
)
def test_a_marked_number_that_runs_on_into_prose_is_that_number(response, gold):
    # math-verify reads these as the number; the span kept the prose and a correct answer scored 0.
    assert verdict(response, {"answer": gold, "value": 0.1}, strict()) == (True, 2.0, None)


@pytest.mark.parametrize(
    "response",
    [
        "The answer is 15 if x > 0, else 3.",
        "The answer is 15 apples or 3 apples.",
        "The answer is 15 in total, or maybe 3.",
        "The answer is 15 is wrong",
        "The answer is 15 and 3.",
        "The answer is 15 to 20.",
    ],
)
def test_a_marked_number_followed_by_a_hedge_or_a_second_answer_is_still_no_answer(response):
    # read from the marker and refused as no answer: not a verifier error or a timeout that happens to give 0
    assert verdict(response, {"answer": "15", "value": 0.1}, strict()) == (False, 0.0, None)


@pytest.mark.parametrize("fmt", [LENIENT, strict()], ids=["lenient", "strict"])
@pytest.mark.parametrize(
    "response, golds, credited",
    [
        ("The answer is 15, wait, 16.", ("15", "16"), None),
        ("The answer is 15, wait, it's 16.", ("15", "16"), None),
        ("\\boxed{15, no, 16}", ("15", "16"), None),
        ("The answer is 15 actually 16.", ("15", "16"), "15"),
        ("答案是15，不对，是16", ("15", "16"), "15"),
        ("答案是15，应为16", ("15", "16"), "15"),
        ("The answer is A, wait, B.", (["A"], ["B"]), ["A"]),
        ("答案是A，不对，是B", (["A"], ["B"]), ["A"]),
        ("Answer: B\nLet me reconsider.\nFinal answer: A, wait, C.", (["A"], ["B"], ["C"]), ["A"]),
    ],
)
def test_a_revision_without_a_new_marker_is_never_paid_twice(response, golds, credited, fmt):
    """docs/answers.md, Known limits: such a revision is read as its first value or as no answer, never as a hedge
    that pays for either, in both formats."""
    paid = [g for g in golds if verdict(response, {"answer": g}, fmt)[0]]
    assert paid == ([] if credited is None else [credited])


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is `15`.", "15"),  # markdown code around the answer
        ("**Answer:** `15`", "15"),
        ("Answer: `D`", ["D"]),
        ("答：15", "15"),  # the closing line of a Chinese word problem
        ("解：3 + 12 = 15\n答：15个。", "15"),
        ("答：选D", ["D"]),
    ],
)
def test_answers_in_code_spans_and_after_the_chinese_da_are_marked_answers(response, gold):
    assert verdict(response, {"answer": gold, "value": 0.1}, strict()) == (True, 2.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is therefore D.", ["D"]),
        ("Thus, the answer is clearly D.", ["D"]),
        ("答案应该是D", ["D"]),
        ("答案应该是15", "15"),
    ],
)
def test_an_adverb_or_modal_between_marker_and_answer_keeps_it_marked(response, gold):
    # strict mode paid these nothing (answer_format): the letter after "the answer is therefore" was a guess
    assert verdict(response, {"answer": gold, "value": 0.1}, strict()) == (True, 2.0, None)


# ---- 3. prose that mentions the gold without stating it ------------------------------------------


@pytest.mark.parametrize(
    "response, gold",
    [
        ("27 is larger than 94.", "94"),  # benchmarks/train_cpu held-out, credited before
        ("35 is larger than 66.", "66"),
        ("60 is 15 more than 60.", "61"),
    ],
)
def test_false_statements_that_mention_the_gold_are_wrong(response, gold):
    assert verdict(response, gold)[0:3:2] == (False, None)  # wrong, not failed


@pytest.mark.parametrize(
    "response", ["15 is not the answer.", "15 is wrong", "It is not 15.", "Never 15", "答案不是15"]
)
def test_a_denial_is_no_guess(response):
    """Lenient mode guesses from the last line; a line that denies a number does not state it."""
    assert verdict(response, {"answer": "15"}) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [("94 is larger than 27.", "94"), ("22 is the answer.", "22"), ("62 + 7 = 69.", "69"), ("We get 12 apples", "12")],
)
def test_stated_answers_in_prose_still_count_in_lenient_mode(response, gold):
    assert verdict(response, gold)[0] is True


# ---- gaming cases found after the first round (each credited before this change) ---------------


@pytest.mark.parametrize(
    "response, gold",
    [
        ("Answer: D\nLet me check again. The answer is not D.", "D"),
        ("答案：D\n再想想，答案不是D。", "D"),
        ("\\boxed{D}\nHmm, the correct answer isn't D.", "D"),
        ("Answer: 15\nWait. The answer is not 15.", "15"),
        ("\\boxed{15}\n再检查：答案不是15", "15"),
    ],
)
def test_a_later_marker_that_denies_names_no_answer(response, gold):
    """The last marker wins, and "the answer is not D" names no answer: reward 0, for choice and for math."""
    assert verdict(response, {"answer": gold, "value": 0.1}) == (False, 0.0, None)
    assert verdict(response, {"answer": gold, "value": 0.1}, strict()) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is not B but C.", "C"),
        ("答案不是B，而是C", "C"),
        ("The answer is not 15 but 16.", "16"),
        ("The answer is not 15, it's 3.", "3"),
        ("The answer is not 15; it is 3.", "3"),
        ("答案不是15，是3。", "3"),
        ("The answer is not B, it's C.", "C"),
    ],
)
def test_a_denial_that_goes_on_to_answer_states_that_answer(response, gold):
    assert verdict(response, gold)[0] is True


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        ("The answer is \\boxed{15}. Note the answer is not 3, a common mistake.", "15", True),
        ("The answer is 15. Hence the answer is not 3.", "15", True),
        ("答案：A。答案不是B。", "A", True),
        ("答案：A。答案不是B。", "B", False),  # neither the denied letter nor a guess
        ("Answer: A. The answer is not B.", "B", False),
        ("The answer is 3. The answer is not 15.", "15", False),
        ("The answer is 15. The answer is not 15.0", "15", False),  # the same value, written otherwise
        ("答案是A。答案并不是A。", "A", False),
    ],
)
def test_a_later_denial_of_another_value_leaves_the_answer_standing(response, gold, correct):
    """Only a denial of the answer stated before it revokes it; denying a different value ("not 3, a common
    mistake") is a remark, and the earlier answer stands (it scored 0 when any later denial revoked it)."""
    assert verdict(response, {"answer": gold, "value": 0.1})[0] is correct


@pytest.mark.parametrize(
    "response",
    [
        "Answer: 15\nNote that the answer is not an integer multiple of 4.",
        "答案：15\n检验：答案不是错的。",
        "The answer is 15. I checked: the answer is not wrong.",
    ],
)
def test_a_denied_remark_after_the_answer_is_not_a_revision(response):
    assert verdict(response, "15")[0] is True


@pytest.mark.parametrize(
    "response, gold",
    [
        ("答案：不是", "不是"),  # a yes/no question answered "no"
        ("答案是：不是。", "不是"),
        ("答案：不为零", "不为零"),
        ("The answer is: not possible.", "not possible"),
        ("The answer is never.", "never"),
    ],
)
def test_a_negative_answer_is_not_a_denial(response, gold):
    """A negation followed by nothing, or by words alone, is the answer itself (credited before the denial rule)."""
    assert verdict(response, gold)[0] is True


@pytest.mark.parametrize(
    "response, gold",
    [
        ("Answer: D. The answer is not option D.", "D"),
        ("Answer: 15. The answer is not equal to 15.", "15"),
        ("答案：D。答案不是选项D。", "D"),
        ("答案是A。答案并不是A。", "A"),
        ("答案是A。答案肯定不是A。", "A"),
    ],
)
def test_a_denial_of_a_letter_number_or_option_still_names_no_answer(response, gold):
    assert verdict(response, gold) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("答案是15或3", "15"),
        ("答案是15或3", "3"),
        ("The answer is 15 or 3", "15"),
        ("The answer is 15 or 3", "3"),
        ("\\boxed{15 \\text{ or } 3}", "15"),
        ("15 or maybe 3", "15"),
        ("Final answer: 15 (or possibly 3)", "15"),
        ("A or B", "A"),
        ("The answer is A or B", "B"),
        ("答案：A或C", "A"),
        ("The answer is 15 (maybe 3).", "15"),  # the hedge in brackets, as the rule's docstring says
        ("The answer is 15 (perhaps 3).", "15"),
        ("答案是15(也许是3)", "15"),
        ("答案是15（或者是3）", "15"),
        ("答案是15，或3", "15"),  # after a comma, too
        ("答案是15，也可能是3", "15"),
        ("The answer is 15 or 3 either way.", "15"),  # "either way" does not undo the "or"
        ("The answer is 15 either way, or maybe 3.", "15"),
        ("The answer is A (maybe B).", "A"),  # choice: neither letter of a hedge, nor the last one read as a guess
        ("The answer is A (maybe B).", "B"),
        ("答案是A，也可能是B", "A"),
        ("答案是A，也可能是B", "B"),
    ],
)
def test_an_answer_offering_alternatives_is_a_hedge(response, gold):
    assert verdict(response, {"answer": gold, "value": 0.1}) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [("\\boxed{x=1 \\text{ or } x=3}", "1, 3"), ("The answer is x < 1 or x > 3", "x<1 \\text{ or } x>3")],
)
def test_or_inside_one_answer_is_no_hedge(response, gold):
    """Two roots for a two-root gold, and a union of inequalities, are one answer each."""
    assert verdict(response, gold)[0] is True


@pytest.mark.parametrize(
    "response",
    [
        "The answer is 15 (possibly wrong).",
        "答案是15（可能有误差）",
        "The answer is 15 (possibly).",
        "答案是15，可能需要验证",
        "答案是15，或者说十五",
        "The answer is 15 either way.",  # "either way" offers no second value
        "The answer is 15 in either case.",
    ],
)
def test_a_hedging_remark_without_an_alternative_is_no_hedge(response):
    assert verdict(response, "15")[0] is True


@pytest.mark.parametrize(
    "response", ["The answer is A (possibly wrong).", "The answer is A (maybe).", "答案是A，可能性最大"]
)
def test_a_hedging_remark_after_a_letter_is_no_hedge(response):
    assert verdict(response, "A")[0] is True


@pytest.mark.parametrize("response", ["The answer is x = 2 or x = -2.", "The answer is 2 or -2."])
@pytest.mark.parametrize("gold", ["\\pm 2", "±2", "x=\\pm 2"])
def test_both_values_of_a_plus_minus_gold_are_no_hedge(response, gold):
    """A gold of "\\pm 2" is two values; naming both is the answer (credited before the hedge rule)."""
    assert verdict(response, gold)[0] is True


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is 16 = 15", "15"),
        ("The answer is 16 = 15", "16"),
        ("\\boxed{16=15}", "15"),
        ("答案：$16=15$", "15"),
        ("7 + 7 = 12, which is the answer.", "12"),  # the CPU experiment's shape, with a false sum
        ("62 + 7 = 13.", "13"),
        ("So 62 + 7 = 13.", "13"),
        ("The answer is 3/4 = 70%", "70\\%"),
        ("The answer is 1/2 = 50", "50"),  # no percent sign: 1/2 is not 50
        ("So \\(62 + 7 = 13\\).", "13"),  # the LaTeX inline delimiters a chat model writes
        ("So 62 + 7 == 13.", "13"),
    ],
)
def test_a_false_equation_states_nothing(response, gold):
    """Not read as its right side (nor its left): a false statement is no answer."""
    assert verdict(response, gold) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{x = 3 + 3 = 6 ≠ 7 = 7}", "7"),  # a side that is not a constant breaks the chain
        ("\\boxed{12/2 = 6 = x = 7}", "7"),
        ("\\boxed{x = 2(3) = 7 = 7}", "7"),
        ("答案是 x = 12 ÷ 2 = 6 或 7 = 7", "7"),
        ("\\boxed{x = 12/2 = 6 \\quad y = 14/2 = 7}", "7"),
        ("\\boxed{6 or 7 = 3 + 4 = 7}", "7"),  # a first side that is no name: a hedge
    ],
)
def test_a_chain_with_a_side_that_is_no_constant_is_not_read_as_its_last_side(response, gold):
    assert verdict(response, gold, strict())[0] is False


@pytest.mark.parametrize(
    "response, gold",
    [
        ("The answer is 6 + 4 = 10.", "10"),
        ("\\boxed{6+4=10}", "10"),
        ("7 + 7 = 14, which is the answer.", "14"),
        ("The answer is 3/4 = 75%", "75\\%"),  # a percentage is its number over 100: true, not "3/4 = 75"
        ("The answer is 3/4 = 75%", "3/4"),
        ("The probability is 1/2 = 50%.", "50\\%"),
        ("So \\(62 + 7 = 69\\).", "69"),
        ("So 62 + 7 == 69.", "69"),
    ],
)
def test_a_true_worked_sum_states_its_result(response, gold):
    assert verdict(response, gold)[0] is True


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{\\log_2 64}", "6"),
        ("\\boxed{2+3}", "5"),
        ("The answer is 2 + 3.", "5"),
        ("\\boxed{\\sqrt{36}}", "6"),
        ("\\boxed{3!}", "6"),
        ("\\boxed{\\binom{5}{2}}", "10"),
        ("\\boxed{2^{10}}", "1024"),
        ("答案：$\\frac{12}{2} \\times 1$", "6"),
        ("\\boxed{\\sin^2 x + \\cos^2 x}", "1"),
        ("The answer is \\gcd(12, 18).", "6"),  # math-verify evaluates these: the rule must name them
        ("The answer is \\max(5,6).", "6"),
        ("The answer is \\operatorname{lcm}(2,3).", "6"),
        ("The answer is \\lceil 5.5 \\rceil.", "6"),
        ("The answer is \\tbinom{4}{2}.", "6"),
        ("The answer is 20 \\bmod 7.", "6"),
        ("The answer is 3552/2.", "1776"),  # a division to carry out: "compute 3552 / 2" restated
        ("\\boxed{12/2}", "6"),
        ("\\boxed{-12/2}", "-6"),
        ("The answer is 1776/1.", "1776"),
        ("\\boxed{\\frac{3}{6}}", "0.5"),  # not in lowest terms
        ("\\boxed{\\dfrac{2}{4}}", "\\frac{1}{2}"),
        ("\\boxed{1.5/3}", "0.5"),
        ("\\boxed{1.2/5}", "0.24"),  # decimal parts: a division, though 12 and 5 are coprime
        ("The answer is 12/2 hours.", "6"),
        ("\\boxed{\\frac{12}{2}\\%}", "6\\%"),
        ("\\boxed{3552 \\over 2}", "1776"),  # other spellings of the same division
        ("\\boxed{-{12 \\over 2}}", "-6"),
        ("\\boxed{3552:2}", "1776"),
        ("答案：3552：2", "1776"),
        ("\\boxed{3552 ∕ 2}", "1776"),  # U+2215, the division slash
        ("\\boxed{x = 12/2, y = 3}", "6, 3"),  # a named list's values
        ("\\boxed{6\\frac{0}{2}}", "6"),  # a mixed number in lowest terms only
        ("\\boxed{1\\frac{2}{4}}", "1.5"),
        ("\\boxed{(12/2, 3552/2)}", "(6, 1776)"),  # in a tuple or set, as alone
        ("\\boxed{\\{2/4, 3\\}}", "\\{0.5, 3\\}"),
        ("\\boxed{(2+4, 1776)}", "(6, 1776)"),
        ("The answer is 6, \\log_2 8.", "6, 3"),
        ("\\boxed{12/2}", "{6}"),
        ("\\boxed{(6, 3552:2)}", "(6, 1776)"),  # a ratio whose terms share a factor, in a list
        ("\\boxed{0.0}", "6.63 \\times 10^{-34}"),  # math-verify rounds both to 6 places: 0 = 0
        ("\\boxed{0}", "10^{-7}"),
        ("\\boxed{6.7 \\times 10^{-34}}", "6.63 \\times 10^{-34}"),
        ("\\boxed{1.5 \\times 10^{-7}}", "10^{-7}"),  # within 0.5%, not within a factor of 2
        ("\\boxed{6.63 \\times 10^{-30}\\ \\mathrm{J\\,s}}", "6.63 \\times 10^{-34}"),  # a unit: still decided here
        ("\\boxed{2^{-100}}", "1.6 \\times 10^{-19}"),
        ("\\boxed{6.63 \\times 10^{-34}, 9 \\times 10^{-31}}", "6.63 \\times 10^{-34}"),  # after it, a unit only:
        ("\\boxed{6.63 \\times 10^{-34} \\pm 5 \\times 10^{-30}}", "6.63 \\times 10^{-34}"),  # no second value,
        ("\\boxed{6.63 \\times 10^{-34} \\times 10^{5}}", "6.63 \\times 10^{-34}"),  # no operation
        ("\\boxed{6.63E-34 \\cdot 10^{9}}", "6.63 \\times 10^{-34}"),
    ],
)
def test_an_unevaluated_expression_is_not_the_number_asked_for(response, gold):
    """The cheapest passing response for "compute log2 64" would be the question itself: a numeric gold asks for the
    value written as a number (docs/answers.md)."""
    assert verdict(response, {"answer": gold, "value": 0.1}) == (False, 0.0, None)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{\\frac{1}{2}}", "0.5"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{2\\sqrt{3}}", "2\\sqrt{3}"),
        ("\\boxed{\\sqrt{12}}", "2\\sqrt{3}"),  # the gold is itself an expression: equivalent forms count
        ("\\boxed{1\\frac{1}{2}}", "1.5"),  # a mixed number is a number
        ("\\boxed{3 \\times 10^{4}}", "30000"),  # so is scientific notation
        ("\\boxed{10^{-3}}", "0.001"),
        ("\\boxed{50\\%}", "0.5"),
        ("\\boxed{6 \\text{ apples}}", "6"),
        ("\\boxed{x = 6}", "6"),
        ("\\boxed{(-6)}", "-6"),
        ("The answer is 5 min.", "5"),  # a unit, not the function min
        ("\\boxed{-\\frac{3}{4}}", "-0.75"),  # a fraction in lowest terms is a number
        ("\\boxed{\\frac{6}{3}}", "\\frac{4}{2}"),  # a gold written unreduced takes any form of its value
        ("\\boxed{2}", "\\frac{4}{2}"),
        ("The answer is $5/hour.", "5"),  # a rate's unit after a slash
        ("The answer is 60/min.", "60"),
        ("\\boxed{(1/2)}", "0.5"),  # one number in brackets is that number
        ("\\boxed{\\left(-\\frac{1}{2}\\right)}", "-0.5"),
        ("\\boxed{(1/2, 3/4)}", "(0.5, 0.75)"),
        ("\\boxed{(-6, 1\\frac{1}{2})}", "(-6, 1.5)"),
        ("\\boxed{(-\\infty, 2]}", "(-\\infty, 2]"),
        ("\\boxed{3/2}", "1\\frac{1}{2}"),
        ("\\boxed{6}", "6\\text{ square units}"),
        ("The answer is 1776 = 3552/2.", "1776"),  # a true equation states its number, not the division it equals
        ("\\boxed{6 = \\frac{12}{2}}", "6"),
        ("\\boxed{x = 12/2 = 6}", "6"),  # a chain whose links hold states its last side
        ("The answer is x = \\frac{12}{2} = 6.", "6"),
        ("\\boxed{S = 1+2+3 = 6}", "6"),
        ("\\boxed{x = 3 + 3 = 6 = 6.0}", "6"),
        (
            "\\boxed{x = 2.333 = 2.33}",
            "2.33",
        ),  # a chain that is not all exact links stays whole, as before: a rounding
        ("\\boxed{d = 5 280 = 5280}", "5280"),
        ("\\boxed{30000}", "3 \\times 10^{4}"),
        ("\\boxed{3.0 \\times 10^4}", "3 \\times 10^{4}"),
        ("\\boxed{1 \\over 2}", "0.5"),  # a fraction in lowest terms in any spelling
        ("\\boxed{-{1 \\over 2}}", "-0.5"),
        ("\\boxed{3 ∕ 2}", "1.5"),
        ("\\boxed{3:2}", "1\\frac{1}{2}"),  # an answer's ratio of two numbers is their quotient
        ("【答案】1:2", "0.5"),
        ("\\boxed{2:1}", "2"),  # a ratio is written with a denominator of 1, or decimal terms
        ("\\boxed{2.5:1}", "\\frac{5}{2}"),
        ("\\boxed{(1, 2:1)}", "(1, 2)"),
        ("\\boxed{3:2 = 1.5}", "1.5"),
        ("\\boxed{15 \\text{ minutes (9:00 to 9:15)}}", "15"),  # a clock time in a remark is no ratio
        ("\\boxed{({1 \\over 2}, -{3 \\over 4})}", "\\left(\\frac{1}{2}, -\\frac{3}{4}\\right)"),
        ("\\boxed{x_1 = -1, x_2 = 2}", "(-1, 2)"),  # a named list with a negative value
        ("\\boxed{\\lambda = 2, \\mu = -3}", "2, -3"),
        ("\\boxed{6\\ \\text{u}^2}", "6\\text{ square units}"),
        ("\\boxed{1.6 \\times 10^{-19}\\text{ C}}", "1.6 \\times 10^{-19}"),  # scientific golds take units
        ("\\boxed{6.02 \\times 10^{23}\\text{ mol}^{-1}}", "6.02 \\times 10^{23}"),
        ("\\boxed{6.626 \\times 10^{-34}}", "6.63 \\times 10^{-34}"),  # a tiny gold, to 0.5%
        ("\\boxed{6.6 \\times 10^{-34}}", "6.63 \\times 10^{-34}"),
        ("\\boxed{6.63 \\times {10}^{-34}\\ \\text{J}\\cdot\\text{s}}", "6.63 \\times 10^{-34}"),  # with its unit
        ("\\boxed{6.63E-34}", "6.63 \\times 10^{-34}"),
        ("\\boxed{6.63 \\times 10^{-34}\\text{ J/s}}", "6.63 \\times 10^{-34}"),
        ("\\boxed{6.02 \\times 10^{-7}\\text{ mol}^{-1}}", "6.02 \\times 10^{-7}"),
        ("\\boxed{1\\frac{1}{2} \\text{ cups}}", "1\\frac{1}{2}"),  # mixed-number golds keep every written form
        ("\\boxed{18 \\text{ ft}^2}", "18 \\text{ square feet}"),
        ("\\boxed{0.00000012}", "1.2 \\times 10^{-7}"),
    ],
)
def test_numbers_in_any_written_form_keep_their_reward(response, gold):
    assert verdict(response, {"answer": gold, "value": 0.1})[0] is True


# ---- 4. the strict answer format ---------------------------------------------------------------


@pytest.mark.parametrize(
    "response, source",
    [("\\boxed{94}", "boxed"), ("The answer is 94.", "marker"), ("94", "bare"), ("$94$.", "bare")],
)
def test_strict_pays_marked_and_bare_answers(response, source):
    v = score(response, {"answer": "94", "value": 0.05}, strict())
    assert (v.correct, v.reward, v.reason, v.source) == (True, 1.5, None, source)


def test_strict_pays_nothing_for_a_guess_with_its_own_reason():
    v = score("So we get 94 in the end", {"answer": "94", "value": 0.05}, strict())
    assert (v.correct, v.reward, v.reason, v.source) == (False, 0.0, "answer_format", "guess")
    assert score("So we get 94 in the end", {"answer": "94", "value": 0.05}, LENIENT).correct  # lenient: a guess
    assert score("A is right I think", "A", strict()).reason == "answer_format"


def test_the_label_field_overrides_the_setting_so_one_dataset_can_mix():
    guess = "So we get 94 in the end"
    assert score(guess, {"answer": "94", "answer_format": "strict"}, LENIENT).reason == "answer_format"
    assert score(guess, {"answer": "94", "answer_format": "lenient"}, strict()).correct
    with pytest.raises(LabelError):
        parse_label({"answer": "94", "answer_format": "loose"})
    assert score(guess, json.dumps({"answer": "94", "answer_format": "loose"}), LENIENT).reason == "label_malformed"


def test_strict_is_set_by_env_and_flag(monkeypatch):
    from openrlhf_rlev.reward.settings import resolve

    monkeypatch.setenv("RLEV_ANSWER_FORMAT", "strict")
    assert Settings.from_env().answer_format == "strict"
    settings, given = resolve({"answer_format": "lenient"}, {"RLEV_ANSWER_FORMAT": "strict"})
    assert settings.answer_format == "lenient" and "answer_format" in given
    with pytest.raises(ValueError, match="answer_format"):
        resolve({"answer_format": "sloppy"}, {})


# ---- 5. visible extraction -------------------------------------------------------------------


def test_logs_say_where_each_answer_came_from():
    cases = {"\\boxed{3}": "boxed", "Answer: 3": "marker", "3": "bare", "we get 3 here": "guess"}
    for response, source in cases.items():
        logs = extra_logs(score(response, "3", LENIENT))
        assert {k: v for k, v in logs.items() if k.startswith("rlev/answer_from_")} == {
            f"rlev/answer_from_{s}": float(s == source) for s in ("boxed", "marker", "bare", "guess")
        }
    logs = extra_logs(score("A. 1\nB. 2\nC. 3\nD. 4", "D", LENIENT))
    assert logs["rlev/fail_options_listed"] == 1.0 and logs["rlev/correct"] == 0.0
    logs = extra_logs(score("we get 3 here", "3", strict()))
    assert logs["rlev/fail_answer_format"] == 1.0 and logs["rlev/answer_from_guess"] == 1.0


@pytest.mark.parametrize("response", ["答案：Cⁿ", "The answer is Cⁱ"])
def test_choice_reads_superscripts_with_the_plugins_normaliser(response):
    """Plain NFKC turns a superscript mark into a letter ("Cⁿ" -> "Cn", a word, no answer); the plugin's normaliser,
    the one math uses (x² -> x^2), keeps it a mark after the letter."""
    assert verdict(response, "C")[0] is True
    assert verdict(response, "D")[0] is False
