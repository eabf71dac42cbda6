"""A seeded corpus of (response, gold) pairs with realistic response shapes, for bench_verify.py.

Sources: GAOKAO-Bench answers (objective questions: single choice, multi-select, multi-question lists;
Math fill-in-the-blank golds) with the exam's own analysis as the reasoning text, and generated math
answers (integers, decimals, fractions, percentages, units, intervals, sets, tuples, expressions that
need sympy). Each pair records whether the response is correct *by construction* (`expected`), so
every verifier, math-verify included, can be scored against the truth, not only against each other.

The mix is fixed by KIND_WEIGHTS (not by what is fast) and printed by the benchmark.
"""

import glob
import json
import os
import random
import re
from dataclasses import dataclass
from fractions import Fraction

_HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(os.path.dirname(_HERE), "openrlhf_rlev", "data", "gaokao_bench")
SHARED = "/work/shared/data/gaokao-bench"


@dataclass(frozen=True)
class Pair:
    kind: str
    response: str
    answers: tuple[str, ...]
    expected: bool  # correct by construction
    value: float = 0.5

    @property
    def label(self) -> dict:
        answer = list(self.answers) if len(self.answers) > 1 else self.answers[0]
        return {"answer": answer, "value": self.value}

    @property
    def gold_text(self) -> str:
        """The gold as one string, for verifiers that take one (math-verify, grade_answer)."""
        return ", ".join(self.answers)


# Share of each kind in the corpus. GAOKAO-derived kinds are about half, as in RLEV's exam data.
KIND_WEIGHTS = {
    "choice_single": 0.22,
    "choice_multiselect": 0.04,
    "choice_parts": 0.06,
    "gaokao_fill": 0.10,
    "math_integer": 0.14,
    "math_decimal": 0.06,
    "math_fraction": 0.08,
    "math_percent": 0.03,
    "math_units": 0.04,
    "math_interval": 0.03,
    "math_set_tuple": 0.03,
    "math_expression": 0.10,
    "math_unboxed": 0.065,
    "adversarial": 0.005,
}


def gaokao_root(path: str | None = None) -> str:
    for root in (path, BUNDLED, SHARED):
        if root and glob.glob(os.path.join(root, "**", "*.json"), recursive=True):
            return root
    raise FileNotFoundError(f"GAOKAO-Bench not found in {BUNDLED} or {SHARED}; pass --gaokao DIR")


def load_gaokao(root: str) -> tuple[list[dict], list[dict]]:
    """(objective items with letter answers, math fill-in-the-blank items), each {answer, analysis}."""
    objective, fill = [], []
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json"), recursive=True)):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        items = data.get("example", []) if isinstance(data, dict) else data
        for item in items:
            answer, analysis = item.get("answer"), item.get("analysis") or ""
            if isinstance(answer, list) and answer and all(re.fullmatch(r"[A-G]+", str(a)) for a in answer):
                objective.append({"answer": [str(a) for a in answer], "analysis": analysis})
            elif "Math" in name and "Fill-in-the-Blank" in name and isinstance(answer, str):
                gold = _clean_fill_gold(answer)
                if gold:
                    fill.append({"answer": gold, "analysis": analysis})
    return objective, fill


_UNUSABLE_GOLD = re.compile(r"\$|#|（|\(\d\)\.|;|；|\d\.\s+\d|\\quad")


def _clean_fill_gold(answer: str) -> str | None:
    """One short answer per blank; multi-blank and malformed golds (about a fifth) are left out."""
    text = answer.strip()
    if "\n" in text or len(text) > 80:
        return None
    m = re.fullmatch(r"\$(.+)\$\.?", text)
    gold = (m.group(1) if m else text).strip().rstrip(".")
    if not gold or _UNUSABLE_GOLD.search(gold):
        return None
    return gold


_ANSWER_TAIL = re.compile(r"(故选|故答案为|答案[:：为是]|【答案】|所以选|故填|因此选).*$", re.DOTALL)


def reasoning_from(analysis: str, rng: random.Random, max_len: int = 1500) -> str:
    """The exam's own worked solution with its final answer sentence cut off."""
    text = _ANSWER_TAIL.sub("", analysis).strip()
    if len(text) > max_len:
        start = rng.randrange(0, len(text) - max_len)
        text = text[start : start + max_len]
    return text


def synthetic_reasoning(rng: random.Random) -> str:
    steps = []
    for i in range(rng.randint(3, 12)):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        steps.append(
            rng.choice(
                [
                    f"Step {i + 1}: we have ${a} + {b} = {a + b}$, so the next term is ${a + b}$.",
                    f"Substituting $x = {a}$ gives $f({a}) = {a * a} - {b}$.",
                    f"Note that $\\frac{{{a}}}{{{b}}}$ cannot be simplified further unless $\\gcd({a},{b})>1$.",
                    f"Multiplying both sides by ${b}$, we get ${a * b}$ on the right-hand side.",
                    f"由已知条件可得 $a_{{{i + 1}}} = {a}$，代入得 ${a}x + {b} = 0$。",
                ]
            )
        )
    return "\n".join(steps)


# ---- final-answer phrasings -------------------------------------------------------------------

CHOICE_FINALS = [
    "故选 {x}",
    "故选：{x}.",
    "【答案】{x} <eoa>",
    "答案是 {x}",
    "所以正确答案为：{x}。",
    "The answer is ({x}).",
    "Therefore, the answer is {x}.",
    "\\boxed{{{x}}}",
    "Final answer: \\boxed{{{x}}}",
    "**Answer:** {x}",
]
MATH_FINALS = [
    "Therefore, the final answer is $\\boxed{{{x}}}$.",
    "So the answer is \\boxed{{{x}}}.",
    "$$\\boxed{{{x}}}$$",
    "故答案为：$\\boxed{{{x}}}$。",
    "综上，答案为 \\boxed{{{x}}}",
]
UNBOXED_FINALS = ["The answer is ${x}$.", "答案：{x}", "故答案为 ${x}$。", "Final answer: {x}"]


def _other_letter(letter: str, rng: random.Random, pool: str = "ABCD") -> str:
    return rng.choice([c for c in pool if c != letter])


def _choice_single(item: dict, rng: random.Random) -> tuple[str, tuple, bool]:
    gold = item["answer"][0]
    correct = rng.random() < 0.6
    given = gold if correct else _other_letter(gold[0], rng)
    final = rng.choice(CHOICE_FINALS).format(x=given)
    return reasoning_from(item["analysis"], rng) + "\n" + final, (gold,), correct


def _choice_multiselect(item: dict, rng: random.Random) -> tuple[str, tuple, bool]:
    gold = item["answer"][0]
    correct = rng.random() < 0.6
    letters = list(gold)
    if correct:
        rng.shuffle(letters)  # "CA" is the same selection as "AC"
    else:
        letters = (
            letters[:-1]
            if len(letters) > 1 and rng.random() < 0.5
            else letters + [_other_letter("", rng, "".join(c for c in "ABCDE" if c not in gold))]
        )
    sep = rng.choice(["", "、", ", ", " and ", " "])
    given = sep.join(letters)
    final = rng.choice(["答案：{x}", "故选 {x}", "The answer is {x}.", "\\boxed{{{x}}}"]).format(x=given)
    return reasoning_from(item["analysis"], rng) + "\n" + final, (gold,), correct


def _choice_parts(item: dict, rng: random.Random) -> tuple[str, tuple, bool]:
    gold = tuple(item["answer"])
    correct = rng.random() < 0.5
    given = list(gold)
    if not correct:
        i = rng.randrange(len(given))
        given[i] = _other_letter(given[i], rng, "ABCDEFG" if len(gold) >= 5 else "ABCD")
    style = rng.random()
    reasoning = reasoning_from(item["analysis"], rng, 800)
    if style < 0.4:
        body = "\n".join(f"({i + 1}) 分析略。【答案】{x} <eoa>" for i, x in enumerate(given))
    elif style < 0.7:
        body = "答案：" + " ".join(given)
    else:
        body = "\n".join(f"{i + 1}. {x}" for i, x in enumerate(given))
    return reasoning + "\n" + body, gold, correct


def _perturb_number_text(text: str, rng: random.Random) -> str | None:
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not digits:
        return None
    i = rng.choice(digits)
    new = str((int(text[i]) + rng.randint(1, 8)) % 10)
    if new == "0" and (i == 0 or not text[i - 1].isdigit()) and i + 1 < len(text) and text[i + 1].isdigit():
        new = "1"  # no leading zeros
    return text[:i] + new + text[i + 1 :]


def _gaokao_fill(item: dict, rng: random.Random, others: list) -> tuple[str, tuple, bool]:
    gold = item["answer"]
    correct = rng.random() < 0.6
    if correct:
        given = gold if rng.random() < 0.7 else gold.replace(" ", "").replace("\\frac", "\\dfrac")
    else:
        given = _perturb_number_text(gold, rng)
        if given is None or given == gold:
            given = rng.choice([o["answer"] for o in others if o["answer"] != gold])
    final = rng.choice(MATH_FINALS + ["故答案为：${x}$．"]).format(x=given)
    return reasoning_from(item["analysis"], rng) + "\n" + final, (gold,), correct


# ---- generated math answers: (gold, equivalent renderings, wrong renderings) -----------------


def _fmt_int(n: int, rng: random.Random) -> str:
    if abs(n) >= 1000 and rng.random() < 0.5:
        return rng.choice([f"{n:,}", f"{n:,}".replace(",", "{,}"), f"{n:,}".replace(",", "\\,")])
    return str(n)


def _math_integer(rng):
    n = rng.choice([rng.randint(-20, 100), rng.randint(100, 10**6)])
    gold = str(n)
    eq = [_fmt_int(n, rng), f"{n}.0", f"x = {n}", str(n)]
    wrong = [str(n + rng.choice([-1, 1, 2, 10])), str(-n) if n else "1", _fmt_int(n * 10, rng) if n else "-3"]
    return gold, eq, wrong


def _math_decimal(rng):
    places = rng.randint(1, 3)
    digits = rng.randint(1, 99999)
    while digits % 10 == 0:
        digits += 1
    value = Fraction(digits, 10**places)
    text = f"{digits // 10**places}.{digits % 10**places:0{places}d}"
    gold = text
    eq = [
        text + "0",
        f"\\frac{{{value.numerator}}}{{{value.denominator}}}",
        f"{value.numerator}/{value.denominator}",
        text,
    ]
    wrong = [f"{float(value) + 0.1:.{places}f}", f"{float(value * 10):.{places}f}", f"-{text}"]
    return gold, eq, wrong


def _math_fraction(rng):
    a, b = rng.randint(1, 30), rng.randint(2, 31)
    f = Fraction(a, b)
    if f.denominator == 1:
        f = Fraction(f.numerator, f.numerator + 1)
    p, q = f.numerator, f.denominator
    gold = rng.choice([f"\\frac{{{p}}}{{{q}}}", f"{p}/{q}"])
    k = rng.randint(2, 5)
    eq = [f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{p * k}}}{{{q * k}}}", f"\\tfrac{{{p}}}{{{q}}}"]
    if 10**6 % q == 0:
        eq.append(f"{p / q:g}")
    wrong = [f"\\frac{{{q}}}{{{p}}}" if p != q else "2", f"\\frac{{{p + 1}}}{{{q}}}", f"-\\frac{{{p}}}{{{q}}}"]
    return gold, eq, wrong


def _math_percent(rng):
    pct = Fraction(rng.randint(1, 199), rng.choice([1, 2, 4]))
    text = f"{float(pct):g}"
    gold = rng.choice([f"{text}\\%", f"{float(pct / 100):g}"])
    eq = [f"{text}\\%", f"{text}%", f"{float(pct / 100):g}"]
    wrong = [f"{float(pct / 100 + Fraction(1, 100)):g}", f"{float(pct) + 1:g}\\%"]
    return gold, eq, wrong


def _math_units(rng):
    n = rng.randint(1, 500)
    unit = rng.choice(
        ["\\text{ cm}", "\\text{ m}", " cm", "^\\circ", "\\text{ dollars}", "厘米", "元", "\\mathrm{kg}"]
    )
    gold = str(n)
    eq = [
        f"{n}{unit}",
        f"{n} {unit.strip()}" if unit.startswith("\\text") else f"{n}{unit}",
        f"\\${n}" if "dollar" in unit else f"{n}{unit}",
    ]
    wrong = [f"{n + rng.randint(1, 9)}{unit}"]
    return gold, eq, wrong


def _math_interval(rng):
    a = rng.randint(-10, 5)
    b = a + rng.randint(1, 10)
    lo, hi = rng.choice(["(", "["]), rng.choice([")", "]"])
    right = rng.choice([str(b), "+\\infty", "\\infty"]) if rng.random() < 0.3 else str(b)
    if "infty" in right:
        hi = ")"
    gold = f"{lo}{a}, {right}{hi}"
    eq = [f"{lo}{a},{right}{hi}", f"\\left{lo}{a}, {right}\\right{hi}", gold]
    flip = {"(": "[", "[": "("}[lo]
    wrong = [f"{flip}{a}, {right}{hi}", f"{lo}{a + 1}, {right}{hi}"]
    return gold, eq, wrong


def _math_set_tuple(rng):
    xs = rng.sample(range(-9, 20), rng.randint(2, 4))
    if rng.random() < 0.5:
        gold = "\\{" + ", ".join(map(str, xs)) + "\\}"
        ys = xs[:]
        rng.shuffle(ys)
        eq = ["\\{" + ",".join(map(str, ys)) + "\\}", "\\{" + ", ".join(map(str, xs)) + "\\}"]
        wrong = ["\\{" + ", ".join(map(str, xs[:-1] + [xs[-1] + 1])) + "\\}"]
    else:
        gold = "(" + ", ".join(map(str, xs)) + ")"
        eq = ["(" + ",".join(map(str, xs)) + ")", "\\left(" + ", ".join(map(str, xs)) + "\\right)"]
        wrong = ["(" + ", ".join(map(str, xs[::-1])) + ")", "(" + ", ".join(map(str, xs[:-1] + [xs[-1] + 1])) + ")"]
    return gold, eq, wrong


def _math_expression(rng):
    a, b, c = rng.randint(2, 9), rng.randint(1, 9), rng.choice([2, 3, 5, 6, 7])
    kind = rng.randrange(5)
    if kind == 0:
        gold = f"\\frac{{\\sqrt{{{c}}}}}{{{a}}}"
        eq = [f"\\frac{{1}}{{{a}}}\\sqrt{{{c}}}", f"\\dfrac{{\\sqrt{c}}}{{{a}}}", f"\\frac{{\\sqrt{{{c}}}}}{{{a}}}"]
        wrong = [f"\\frac{{\\sqrt{{{c}}}}}{{{a + 1}}}", f"\\frac{{{a}}}{{\\sqrt{{{c}}}}}"]
    elif kind == 1:
        gold = f"x^2+{2 * b}x+{b * b}"
        eq = [f"(x+{b})^2", f"x^{{2}} + {2 * b}x + {b * b}", f"{b * b}+{2 * b}x+x^2"]
        wrong = [f"(x+{b + 1})^2", f"x^2+{b}x+{b * b}"]
    elif kind == 2:
        gold = f"{a}\\pi"
        eq = [f"{a} \\pi", f"\\pi \\cdot {a}", f"{a}\\pi"]
        wrong = [f"{a + 1}\\pi", f"\\frac{{{a}\\pi}}{{2}}"]
    elif kind == 3:
        gold = f"{b}+\\sqrt{{{c}}}"
        eq = [f"\\sqrt{{{c}}}+{b}", f"{b} + \\sqrt{c}", f"{b}+\\sqrt{{{c}}}"]
        wrong = [f"{b}-\\sqrt{{{c}}}", f"{b + 1}+\\sqrt{{{c}}}"]
    else:
        gold = f"{a}x-{b}"
        eq = [f"-{b}+{a}x", f"{a}x - {b}", f"{a} x-{b}"]
        wrong = [f"{a}x+{b}", f"{b}x-{a}" if a != b else f"{a + 1}x-{b}"]
    return gold, eq, wrong


GENERATED = {
    "math_integer": _math_integer,
    "math_decimal": _math_decimal,
    "math_fraction": _math_fraction,
    "math_percent": _math_percent,
    "math_units": _math_units,
    "math_interval": _math_interval,
    "math_set_tuple": _math_set_tuple,
    "math_expression": _math_expression,
}


def _generated(kind: str, rng: random.Random) -> tuple[str, tuple, bool]:
    gold, eq, wrong = GENERATED[kind](rng)
    correct = rng.random() < 0.6
    given = rng.choice(eq if correct else wrong)
    final = rng.choice(MATH_FINALS).format(x=given)
    return synthetic_reasoning(rng) + "\n" + final, (gold,), correct


def _unboxed(rng: random.Random) -> tuple[str, tuple, bool]:
    kind = rng.choice(["math_integer", "math_fraction", "math_decimal", "math_expression"])
    gold, eq, wrong = GENERATED[kind](rng)
    correct = rng.random() < 0.6
    given = rng.choice(eq if correct else wrong)
    final = rng.choice(UNBOXED_FINALS).format(x=given)
    return synthetic_reasoning(rng) + "\n" + final, (gold,), correct


ADVERSARIAL = [
    ("power_tower", lambda rng: ("Compute it: \\boxed{5^{5^{5^{5^5}}}}", ("1",), False)),
    ("power_tower_sum", lambda rng: ("Compute it: \\boxed{5^{5^{5^{5^5}}}+x}", ("1",), False)),
    ("huge_response", lambda rng: ("Let me think. " * 70_000 + "\\boxed{7}", ("7",), True)),
    ("lone_surrogate", lambda rng: ("\ud800 the answer is \\boxed{\ud800}", ("3",), False)),
    ("empty", lambda rng: ("", ("12",), False)),
    ("unclosed_brace", lambda rng: ("So \\boxed{\\frac{1}{2" + "{" * 200, ("\\frac{1}{2}",), False)),
    ("long_number", lambda rng: ("\\boxed{" + "9" * 5000 + "}", ("9",), False)),
]


def build(n: int, seed: int, gaokao_dir: str | None = None) -> list[Pair]:
    rng = random.Random(seed)
    objective, fill = load_gaokao(gaokao_root(gaokao_dir))
    singles = [o for o in objective if len(o["answer"]) == 1 and len(o["answer"][0]) == 1]
    multis = [o for o in objective if len(o["answer"]) == 1 and len(o["answer"][0]) > 1]
    parts = [o for o in objective if len(o["answer"]) > 1]
    kinds = list(KIND_WEIGHTS)
    counts = {k: int(round(KIND_WEIGHTS[k] * n)) for k in kinds}
    counts["math_integer"] += n - sum(counts.values())
    pairs: list[Pair] = []
    for kind in kinds:
        for i in range(counts[kind]):
            if kind == "choice_single":
                r, a, e = _choice_single(rng.choice(singles), rng)
            elif kind == "choice_multiselect":
                r, a, e = _choice_multiselect(rng.choice(multis), rng)
            elif kind == "choice_parts":
                r, a, e = _choice_parts(rng.choice(parts), rng)
            elif kind == "gaokao_fill":
                r, a, e = _gaokao_fill(rng.choice(fill), rng, fill)
            elif kind == "math_unboxed":
                r, a, e = _unboxed(rng)
            elif kind == "adversarial":
                name, make = ADVERSARIAL[i % len(ADVERSARIAL)]
                r, a, e = make(rng)
                kind_name = f"adversarial:{name}"
                pairs.append(Pair(kind_name, r, a, e, round(rng.random(), 3)))
                continue
            else:
                r, a, e = _generated(kind, rng)
            pairs.append(Pair(kind, r, a, e, round(rng.random(), 3)))
    rng.shuffle(pairs)
    return pairs
