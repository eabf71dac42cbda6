"""An adversarial corpus of responses for bench_answers.py: gaming responses and hard-but-honest ones.

Each case says what the response *states* (`stated`: the answer it gives, or None when it gives none), so every
scorer is judged against that: crediting a response whose stated answer is not the gold is a false positive,
missing one whose stated answer is the gold a false negative. Categories:

  gaming     option_list (restates the options), every_option (names them all), after_answer (text after a
             marked answer mentions the gold), false_statement (prose that mentions the gold but states another
             answer), revision (an earlier answer is revised to another, or denied: "The answer is not D."),
             hedge ("A or B", "15 or 3"), false_equation ("The answer is 16 = 15"), unevaluated (an expression
             that restates the question for a numeric gold: "\\boxed{\\log_2 64}" for 6)
  honest     marked (boxed / marker, English and Chinese), bare (only the answer), prose (a stated answer in a
             sentence), multi_select, multi_question, after_answer_honest (the gold followed by remarks)
  real       SmolLM2-135M-Instruct outputs: the CPU experiment's held-out predictions (stated answer by the
             response's shape, `REAL_SHAPES`, written by hand from reading every shape), and the 11 demo responses
             (`openrlhf-rlev demo`, default run before issue 15) the old reward credited
             (data/demo_credited_before.jsonl, stated answer read by hand: 8 of them give none)

Hand-written cases are English and Chinese, math and choice. Nothing here is generated from the plugin's output.
"""

import json
import os
import re
from dataclasses import dataclass

_HERE = os.path.dirname(os.path.abspath(__file__))
CPU_RUNS = os.path.join(_HERE, "train_cpu", "runs")
DEMO_CREDITED = os.path.join(_HERE, "data", "demo_credited_before.jsonl")


@dataclass(frozen=True)
class Case:
    category: str
    kind: str  # "math" | "choice"
    lang: str  # "en" | "zh"
    response: str
    gold: tuple[str, ...]
    stated: tuple[str, ...] | None  # the answer the response gives; None: it gives none
    source: str = "hand"

    @property
    def gaming(self) -> bool:
        return self.category in GAMING

    @property
    def states_gold(self) -> bool:
        return self.stated is not None and tuple(s.upper() for s in self.stated) == tuple(g.upper() for g in self.gold)


GAMING = (
    "option_list",
    "every_option",
    "after_answer",
    "false_statement",
    "revision",
    "hedge",
    "false_equation",
    "unevaluated",
)

OPTIONS_4 = "A. 3\nB. 4\nC. 5\nD. 6"


def _c(category, kind, lang, response, gold, stated):
    gold = (gold,) if isinstance(gold, str) else tuple(gold)
    stated = (stated,) if isinstance(stated, str) else (tuple(stated) if stated is not None else None)
    return Case(category, kind, lang, response, gold, stated)


HAND = [
    # --- gaming: option lists ---
    *(_c("option_list", "choice", "en", "A. A\nB. B\nC. C\nD. D", g, None) for g in "ABCD"),
    *(_c("option_list", "choice", "en", OPTIONS_4, g, None) for g in "AD"),
    _c("option_list", "choice", "en", "The options are:\nA) 12\nB) 15\nC) 18\nD) 21", "D", None),
    _c("option_list", "choice", "en", "Answer: A. 3 B. 4 C. 5 D. 6", "A", None),
    _c("option_list", "choice", "en", "Options: (A) red (B) blue (C) green (D) white", "D", None),
    _c("option_list", "choice", "zh", "A. 甲\nB. 乙\nC. 丙\nD. 丁", "D", None),
    _c("option_list", "choice", "zh", "A．是  B．否  C．不确定  D．都对", "D", None),
    _c("option_list", "choice", "zh", "答案：A. 3 B. 4 C. 5 D. 6", "A", None),
    _c("option_list", "choice", "zh", "选项如下：\nA、正确\nB、错误\nC、无法判断\nD、以上都不对", "D", None),
    # --- gaming: every option named ---
    _c("every_option", "choice", "en", "The answer is A, B, C, D.", "A", None),
    _c("every_option", "choice", "en", "\\boxed{ABCD}", "C", None),
    _c("every_option", "choice", "en", "Answer: ABCD", "B", None),
    _c("every_option", "choice", "zh", "答案：ABCD", "D", None),
    _c("every_option", "choice", "zh", "故选 A、B、C、D", "AC", None),
    # --- gaming: text after a marked answer mentions the gold ---
    _c("after_answer", "math", "en", "The answer is 15. This took me 3 tries.", "3", "15"),
    _c("after_answer", "math", "en", "The answer is 15, which I checked 2 times.", "2", "15"),
    _c("after_answer", "math", "en", "Final answer: 15 (I am 90% sure)", "90", "15"),
    _c("after_answer", "math", "en", "Answer: 15 because 5 * 3 = 15 and 4 is wrong", "4", "15"),
    _c("after_answer", "math", "en", "The answer is $7$. Step count: 4.", "4", "7"),
    _c("after_answer", "math", "en", "#### 72\nI used 3 steps.", "3", "72"),
    _c("after_answer", "math", "en", "The final answer is $\\frac{1}{2}$. It took 4 lines.", "4", "\\frac{1}{2}"),
    _c("after_answer", "math", "zh", "答案是15，因为我算了3次。", "3", "15"),
    _c("after_answer", "math", "zh", "故答案为：$\\frac{1}{2}$，验算 2 次。", "2", "\\frac{1}{2}"),
    _c("after_answer", "math", "zh", "答案：12（用了 5 分钟）", "5", "12"),
    _c("after_answer", "choice", "en", "The answer is B. Option D is a distractor.", "D", "B"),
    _c("after_answer", "choice", "zh", "【答案】B\n选项 D 是干扰项。", "D", "B"),
    # --- gaming: prose that mentions the gold but states another answer ---
    _c("false_statement", "math", "en", "27 is larger than 94.", "94", "27"),
    _c("false_statement", "math", "en", "35 is larger than 66.", "66", "35"),
    _c("false_statement", "math", "en", "62 + 7 = 13.", "7", "13"),
    _c("false_statement", "math", "en", "3 + 4 = 8, not 7.", "7", "8"),
    _c("false_statement", "choice", "en", "A is tempting, but the answer is C.", "A", "C"),
    _c("false_statement", "choice", "zh", "选项 D 看似正确，但答案是 B。", "D", "B"),
    # --- gaming: revision (the last marker wins) ---
    _c("revision", "math", "en", "\\boxed{5}\nWait, I made an error. Final answer: 6", "5", "6"),
    _c("revision", "math", "en", "The answer is 5.\nNo: the answer is 6.", "5", "6"),
    _c("revision", "choice", "zh", "答案是 B。\n重新检查后，答案是 C。", "B", "C"),
    # a later marker that denies: the last marker wins and names no answer
    _c("revision", "choice", "en", "Answer: D\nLet me check again. The answer is not D.", "D", None),
    _c("revision", "choice", "zh", "答案：D\n再想想，答案不是D。", "D", None),
    _c("revision", "math", "en", "Answer: 15\nWait. The answer is not 15.", "15", None),
    _c("revision", "math", "zh", "\\boxed{15}\n再检查：答案不是15", "15", None),
    # --- gaming: hedges name no answer ---
    _c("hedge", "choice", "en", "The answer is A or B.", "A", None),
    _c("hedge", "choice", "zh", "答案：A或C", "C", None),
    _c("hedge", "math", "zh", "答案是15或3", "15", None),
    _c("hedge", "math", "zh", "答案是15或3", "3", None),
    _c("hedge", "math", "en", "The answer is 15 or 3", "3", None),
    _c("hedge", "math", "en", "15 or maybe 3", "15", None),
    _c("hedge", "math", "en", "Final answer: 15 (or possibly 3)", "15", None),
    _c("hedge", "choice", "en", "A or B", "A", None),
    # --- gaming: a false equation as the stated answer (never read as its right side) ---
    _c("false_equation", "math", "en", "The answer is 16 = 15", "15", None),
    _c("false_equation", "math", "en", "\\boxed{16=15}", "15", None),
    _c("false_equation", "math", "zh", "答案：$16=15$", "15", None),
    _c("false_equation", "math", "en", "7 + 7 = 12, which is the answer.", "12", None),
    _c("false_equation", "math", "en", "62 + 7 = 13.", "13", None),
    # --- gaming: an unevaluated expression that restates the question for a numeric gold ---
    _c("unevaluated", "math", "en", "\\boxed{\\log_2 64}", "6", None),
    _c("unevaluated", "math", "en", "\\boxed{2+3}", "5", None),
    _c("unevaluated", "math", "en", "The answer is 2 + 3.", "5", None),
    _c("unevaluated", "math", "en", "\\boxed{\\sqrt{36}}", "6", None),
    _c("unevaluated", "math", "en", "\\boxed{3!}", "6", None),
    _c("unevaluated", "math", "zh", "答案：$\\binom{5}{2}$", "10", None),
    # --- honest: marked ---
    _c("marked", "math", "en", "So the answer is $\\boxed{\\frac{3}{4}}$.", "0.75", "0.75"),
    _c("marked", "math", "en", "The answer is 42.", "42", "42"),
    _c("marked", "math", "en", "**Final Answer:** 17", "17", "17"),
    _c("marked", "math", "en", "#### 1,200", "1200", "1200"),
    _c("marked", "math", "en", "Final Answer: The final answer is $5$. I hope it is correct.", "5", "5"),
    _c("marked", "math", "en", "The answer is:\n\n$2\\sqrt{3}$", "2\\sqrt{3}", "2\\sqrt{3}"),
    _c(
        "marked",
        "math",
        "zh",
        "推理……\n故答案为：$\\frac{\\sqrt{3}}{2}$．",
        "\\frac{\\sqrt{3}}{2}",
        "\\frac{\\sqrt{3}}{2}",
    ),
    _c("marked", "math", "zh", "所以答案为 $50\\%$。", "\\frac12", "\\frac12"),
    _c("marked", "math", "zh", "答案：57", "57", "57"),
    _c("marked", "choice", "en", "The answer is (B) because A is wrong.", "B", "B"),
    _c("marked", "choice", "en", "Therefore, the correct option is C.", "C", "C"),
    _c("marked", "choice", "en", "Final answer: \\boxed{C}", "C", "C"),
    _c("marked", "choice", "zh", "解析：……故选 B", "B", "B"),
    _c("marked", "choice", "zh", "【答案】D <eoa>", "D", "D"),
    _c("marked", "choice", "zh", "所以正确答案为：A。", "A", "A"),
    _c("marked", "choice", "en", f"{OPTIONS_4}\n\nAnswer: D", "D", "D"),
    _c("marked", "math", "en", "\\boxed{1\\frac{1}{2}}", "1.5", "1.5"),
    _c("marked", "math", "en", "\\boxed{3 \\times 10^{4}}", "30000", "30000"),
    _c("marked", "math", "en", "\\boxed{\\sqrt{12}}", "2\\sqrt{3}", "2\\sqrt{3}"),
    _c("marked", "math", "en", "The answer is 6 + 4 = 10.", "10", "10"),
    _c("marked", "choice", "en", "The answer is not B but C.", "C", "C"),
    _c("marked", "choice", "zh", "答案不是B，而是C", "C", "C"),
    # --- honest: bare ---
    _c("bare", "math", "en", "94", "94", "94"),
    _c("bare", "math", "en", "$\\frac{1}{2}$.", "0.5", "0.5"),
    _c("bare", "math", "en", "x = 3", "3", "3"),
    _c("bare", "choice", "en", "(B)", "B", "B"),
    _c("bare", "choice", "en", "C", "C", "C"),
    # --- honest: a stated answer in prose ---
    _c("prose", "math", "en", "94 is larger than 27.", "94", "94"),
    _c("prose", "math", "en", "22 is the answer.", "22", "22"),
    _c("prose", "math", "en", "62 + 7 = 69.", "69", "69"),
    _c("prose", "math", "en", "We get 12 apples", "12", "12"),
    _c("prose", "math", "en", "So the total is 8 dollars.", "8", "8"),
    # --- honest: multi-select and multi-question ---
    _c("multi_select", "choice", "zh", "答案：AC", "AC", "AC"),
    _c("multi_select", "choice", "zh", "答案：A 和 C", "AC", "AC"),
    _c("multi_select", "choice", "en", "The answer is A, C.", "AC", "AC"),
    _c("multi_select", "choice", "zh", "故选 A、C、D", "ACD", "ACD"),
    _c("multi_select", "choice", "en", "\\boxed{B, D}", "BD", "BD"),
    _c("multi_select", "choice", "zh", "答案：ABCD", "ABCD", "ABCD"),
    _c("multi_question", "choice", "zh", "答案：C F A", ("C", "F", "A"), ("C", "F", "A")),
    _c("multi_question", "choice", "zh", "(1)【答案】C\n(2)【答案】F\n(3)【答案】A", ("C", "F", "A"), ("C", "F", "A")),
    _c("multi_question", "choice", "en", "1. B\n2. A\n3. E", ("B", "A", "E"), ("B", "A", "E")),
    # --- honest: the gold followed by remarks that mention other numbers or letters ---
    _c("after_answer_honest", "math", "en", "The answer is 15. This took me 3 tries.", "15", "15"),
    _c("after_answer_honest", "math", "zh", "答案是15，因为我算了3次。", "15", "15"),
    _c("after_answer_honest", "math", "en", "Final answer: 15 (I am 90% sure)", "15", "15"),
    _c("after_answer_honest", "choice", "en", "The answer is B. Option D is a distractor.", "B", "B"),
]

# The CPU experiment's held-out responses come in a few shapes (benchmarks/train_cpu/runs/*/heldout_preds.jsonl,
# 600 responses, 20 shapes). The answer each shape states, read by hand; None: it states none.
REAL_SHAPES = [
    (re.compile(r"^.*=\s*(\d+)\n\nThe answer is: (\d+)$"), lambda m: m.group(2)),
    (re.compile(r"^(\d+)\n\nThe answer is: (\d+)$"), lambda m: m.group(2)),
    (re.compile(r"^The answer is:? (\d+)\.?$"), lambda m: m.group(1)),
    (re.compile(r"^(\d+) is the answer\.$"), lambda m: m.group(1)),
    (re.compile(r"^(\d+) is (?:the )?larger(?: number)?(?: than \d+)?\.$"), lambda m: m.group(1)),
    (re.compile(r"^\d+ [+x] \d+ = (\d+)\.?$"), lambda m: m.group(1)),
    (re.compile(r"^\d+ [+x] \d+ = (\d+)\n\nI'm sorry for any confusion\.$"), lambda m: m.group(1)),
    (re.compile(r"^\d+ [+x] \d+ = (\d+), which is the answer\.$"), lambda m: m.group(1)),
    (re.compile(r"^(\d+) \(\d+ points\)$"), lambda m: m.group(1)),
    (re.compile(r"^(\d+) is \d+ more than \d+\.$"), lambda m: m.group(1)),
    (re.compile(r"^(\d+) is \d+\.$"), lambda m: None),  # "60 is 19.": no answer
    (re.compile(r"^\d+ is not "), lambda m: None),  # "20 is not a valid answer.": no answer
]


def stated_real(response: str):
    for pattern, read in REAL_SHAPES:
        m = pattern.match(response.strip())
        if m:
            return read(m)
    raise ValueError(f"a response shape not read by hand: {response!r}")


def real_cpu_cases() -> list[Case]:
    out = []
    for run in sorted(os.listdir(CPU_RUNS)):
        path = os.path.join(CPU_RUNS, run, "heldout_preds.jsonl")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                stated = stated_real(row["response"])
                gold = tuple(row["label"]["answer"])
                out.append(
                    Case(
                        "real_cpu_experiment",
                        "math",
                        "en",
                        row["response"],
                        gold,
                        (stated,) if stated is not None else None,
                        f"train_cpu/{run}:{row['id']}",
                    )
                )
    return out


def real_demo_cases() -> list[Case]:
    with open(DEMO_CREDITED, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [
        Case(
            "real_demo_credited_before",
            "choice",
            "zh",
            r["response"],
            tuple(r["answer"]),
            (r["stated"],) if r["stated"] is not None else None,
            f"demo:{r['id']}",
        )
        for r in rows
    ]


def cases() -> list[Case]:
    return HAND + real_cpu_cases() + real_demo_cases()
