"""Math answers: cheap exact, numeric and structural checks first, math-verify (sympy) in the worker pool last.

Most RL answers are numbers, so most verdicts never reach sympy. The numeric rules follow math-verify's
where it is right: exact rational equality unless a decimal is involved, then both sides rounded to 6
places; "50%" equals 0.5 and also 50 (a bare percent figure); thousands separators, units, degree signs,
currency and "x =" prefixes are ignored ("y = 3" against "x = 3" is not: both prefixes must name the same
variable). Tuples, intervals and sets of numbers compare item by item.
Closed forms, polynomials and equations are evaluated with floats at fixed points (latex_eval.py).
Anything these rules cannot decide goes to math-verify in a worker process with a hard deadline.
The gold's parse is cached per process (LRU, thread-safe): every sample of a prompt shares it.
"""

import re
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

from openrlhf_rlev.verifiers import budget, exact, extract, latex_eval
from openrlhf_rlev.verifiers.cache import bounded_cache
from openrlhf_rlev.verifiers.pool import get_pool
from openrlhf_rlev.verifiers.registry import Check, plain_check

FLOAT_PLACES = 6  # math-verify's float_rounding default
GOLD_CACHE_SIZE = 65536
# Total gold text cached per process (docs/limits.md): a parsed list gold keeps ~40 bytes per character, so this
# bounds the cache near 80 MB whatever the golds (an entry count alone let 65,536 long list answers take gigabytes).
GOLD_CACHE_CHARS = 2_000_000

_NOISE = re.compile(r"\\left|\\right|\\displaystyle|\\!|\\limits")
_FRAC_CMD = re.compile(r"\\[dtc]frac")
_THIN_SPACE = re.compile(r"\\[,;:> ]|\\q?quad|~")
_ASSIGN = re.compile(r"^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*=\s*(?=[^=]*$)")
_DEGREE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_CURRENCY = re.compile(r"^(?:\\\$|\$|¥|￥|€|£|rmb)\s*", re.IGNORECASE)
_UNIT_WORDS = (
    "km|cm|mm|nm|kg|mg|ml|min|mins|hr|hrs|hours?|minutes?|seconds?|days?|weeks?|months?|years?"
    "|meters?|metres?|centimeters?|kilometers?|miles?|feet|foot|inch(?:es)?|yards?|units?|dollars?|cents?"
    "|degrees?|deg|kilograms?|grams?|liters?|litres?|people|persons?|students?|ways?|times|items?|pounds?"
)
_SHORT_UNITS = "m|g|s|h|l|t|j|w|v|a|n"  # only after a space: "5 m" is metres, "5m" may be 5 times m
_UNIT_SUFFIX = re.compile(
    rf"(?<=[\d}}).%])(?:\s*(?:{_UNIT_WORDS})|\s+(?:{_SHORT_UNITS}))(?:\^\{{?\d\}}?|\d)?(?:/(?:{_UNIT_WORDS}|{_SHORT_UNITS}))?$"
    rf"|(?<=[\d}}).%])\s*/\s*(?:{_UNIT_WORDS})$"  # "$5/hour": a rate's unit (not "5/m": m may be a variable)
    r"|(?<=[\d}).%])\s*[\u4e00-\u9fff]+$",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d*)(?:\.(\d+))?$")
_FRAC = re.compile(r"^\\frac\s*(?:\{([^{}]+)\}|(\d))\s*(?:\{([^{}]+)\}|(\d))$")
_ONE_TOKEN_BRACES = re.compile(r"(\^|_|\\sqrt)\{([A-Za-z0-9])\}")
_MATHY = re.compile(r"[0-9A-Za-z\\π∞√]")
_PLAIN_INT = re.compile(r"[-+]?\d+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_INFINITY = re.compile(r"^([+-]?)\\infty$|^([+-]?)∞$")


@dataclass(frozen=True)
class Number:
    value: Fraction
    is_float: bool = False  # written with a decimal point: compare rounded, like math-verify
    percent: bool = False
    # written as a division still to carry out ("12/2", "6/1", "1.5/3"), not a fraction in lowest terms: the
    # cheapest passing answer to "compute 3552 / 2" would otherwise be the question, "3552/2" for 1776
    division: bool = False


@dataclass(frozen=True)
class Parsed:
    """What the fast paths need from one answer string; a gold's is computed once and cached."""

    canon: str
    number: Number | None
    items: tuple | None  # (open, close, (Number | infinity, ...)) for tuples, intervals and sets of numbers
    ast: tuple | None  # latex_eval's tree for closed forms and polynomials
    text: str  # what `ast` was parsed from
    words: bool  # Chinese words outside \text{}: not a formula
    equation: tuple | None  # latex_eval's tree of (left - right) for "y = 2x - 2"
    assigned: str | None  # 'x' for "x = 5": the name a prediction's own prefix must match
    int_key: str | None  # a plain integer gold's digits (_int_key), else None
    normalized: str  # exact.normalize(text)
    # a gold in scientific notation below 10^-6: math-verify's rounding to 6 places would call it 0, so that "0.0"
    # earned the reward for 6.63 \\times 10^{-34}; compared to 0.5% instead (6.626 or 6.6 for 6.63, not 1.4 for 1)
    tiny: Fraction | None = None


_SIMPLE_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")  # its own canonical form: most answers, no regex pass needed


def canon(text: str) -> str:
    """Spacing-, sizing- and \\dfrac-insensitive form for plain string equality."""
    if _SIMPLE_NUMBER.fullmatch(text):
        return text
    t = extract.unwrap_math(text)
    t = _NOISE.sub("", _FRAC_CMD.sub(r"\\frac", t))
    t = _THIN_SPACE.sub(" ", t).replace("{,}", ",").replace("−", "-")
    t = re.sub(r"\s+", "", t).rstrip(" .。;；")
    t = _ONE_TOKEN_BRACES.sub(r"\1\2", t)  # x^{2} -> x^2, \sqrt{3} -> \sqrt3: the same in LaTeX
    return t.replace("+\\infty", "\\infty").replace("\\{", "{").replace("\\}", "}")


def _strip_decorations(t: str) -> tuple[str, bool]:
    """Units, degrees, currency, '\\text{}' and 'x =' removed; returns (text, had a percent sign)."""
    t = extract.TEXT_CMD.sub(r" \1", t)
    t = _ASSIGN.sub("", t.strip())
    t = _DEGREE.sub("", t)
    t = _CURRENCY.sub("", t.strip())
    percent = False
    for _ in range(2):  # "5 cm", "50 %", "5\%元"
        t = _UNIT_SUFFIX.sub("", t.strip()).strip()
        if t.endswith("\\%") or t.endswith("%"):
            percent = True
            t = t[:-2] if t.endswith("\\%") else t[:-1]
    return t.strip(), percent


def _plain_number(t: str) -> Number | None:
    sign = 1
    if t and t[0] in "+-":
        sign, t = (-1 if t[0] == "-" else 1), t[1:].strip()
    m = _DECIMAL.match(t)
    if not m or not (m.group(1) or m.group(2)):
        return None
    whole = m.group(1).replace(",", "").replace(" ", "") or "0"
    frac = m.group(2) or ""
    value = Fraction(int(whole + frac), 10 ** len(frac))
    return Number(sign * value, is_float=m.group(2) is not None)


def _fraction(t: str) -> Number | None:
    """'-\\frac{3}{4}', '3/4' -> -3/4, 3/4; `division` unless in lowest terms with integer parts ('12/2', '1.5/3')."""
    sign = 1
    if t and t[0] in "+-":
        sign, t = (-1 if t[0] == "-" else 1), _outer_group(t[1:].strip())
    m = _FRAC.match(t)
    if m:
        num_text, den_text = m.group(1) or m.group(2), m.group(3) or m.group(4)
    elif t.count("/") == 1:
        num_text, den_text = t.split("/")
    else:
        return None
    num, den = _simple(num_text.strip()), _simple(den_text.strip())
    if num is None or den is None or den.value == 0:
        return None
    is_float = num.is_float or den.is_float
    lowest = not is_float and abs(den.value) != 1 and gcd(num.value.numerator, den.value.numerator) == 1
    return Number(sign * num.value / den.value, is_float=is_float, division=not lowest)


def _simple(t: str) -> Number | None:
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip()
    return _plain_number(t)


def to_number(text: str) -> Fraction | None:
    """A plain number, decimal, fraction (a/b, \\frac{a}{b}) or percentage; None if it is anything else."""
    n = parse_number(text)
    if n is None:
        return None
    return n.value / 100 if n.percent else n.value


def parse_number(text: str, ratio: bool = False) -> Number | None:
    """`ratio`: read "3:2" as 3/2 (an answer's ratio is its quotient; a gold "10:30" may be a time, left as text)."""
    t = canon_number_text(text)
    t, percent = _strip_decorations(t)
    if not t or len(t) > 200:
        return None
    t = _outer_group(t)
    m = _RATIO.match(t) if ratio else None
    n = _ratio(m) if m else _plain_number(t) or _fraction(t)
    if n is None:
        return None
    return Number(n.value, n.is_float, percent, n.division)


_OVER = re.compile(r"\s*\\over(?![A-Za-z])\s*")
# "3:2", "3∶2", "3：2": an answer that is a ratio of two numbers states their quotient (only as the whole answer:
# "9:00 to 9:15" is a time)
_RATIO = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*[:：∶]\s*(\d+(?:\.\d+)?)$")


def _ratio(m: re.Match) -> Number | None:
    """'3:2' -> 3/2; a division still to do only when its terms share a factor ('3552:2'): '2:1' and '2.5:1' are how
    ratios are written."""
    a, b = _plain_number(m.group(1)), _plain_number(m.group(2))
    if a is None or b is None or b.value == 0:
        return None
    is_float = a.is_float or b.is_float
    shared = not is_float and gcd(a.value.numerator, b.value.numerator) > 1
    return Number(a.value / b.value, is_float=is_float, division=shared)


def _outer_group(t: str) -> str:
    """'(1/2)', '{6}' -> '1/2', '6': one number in a group (not '(1, 2)', nor '(1)+(2)')."""
    if t[:1] in _OPENERS and t[-1:] == _OPENERS[t[0]]:
        parts = _split_top(t[1:-1])
        if parts is not None and len(parts) == 1:
            return t[1:-1].strip()
    return t


def canon_number_text(text: str) -> str:
    t = extract.unwrap_math(text)
    t = _NOISE.sub("", _FRAC_CMD.sub(r"\\frac", t)).replace("{,}", ",").replace("−", "-")
    if "\\over" in t:
        t = _OVER.sub("/", t)  # "1 \\over 2": a spelling of "1/2"
    t = t.replace("∕", "/")  # U+2215, the division slash
    t = re.sub(r"(?<=\d)(?:\\,|\\ |\\;|~)(?=\d{3}(?!\d))", " ", t)  # "1\,234" thousands grouping
    return _THIN_SPACE.sub(" ", t).strip().rstrip(".。;；").strip()


def _round(x: Fraction) -> Fraction:
    return Fraction(round(x * 10**FLOAT_PLACES), 10**FLOAT_PLACES)


def _values_equal(a: Fraction, b: Fraction, is_float: bool) -> bool:
    return _round(a) == _round(b) if is_float else a == b


def numbers_equal(a: Number, b: Number) -> bool:
    """Exact for rationals; 6-place rounding once a decimal is involved; a percent may be read either way."""
    is_float = a.is_float or b.is_float
    if a.percent == b.percent:
        return _values_equal(a.value, b.value, is_float)
    scaled_a = a.value / 100 if a.percent else a.value
    scaled_b = b.value / 100 if b.percent else b.value
    return _values_equal(scaled_a, scaled_b, is_float) or _values_equal(a.value, b.value, is_float)


_OPENERS = {"(": ")", "[": "]", "{": "}"}


def _split_top(t: str) -> list[str] | None:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(t):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            parts.append(t[start:i])
            start = i + 1
    parts.append(t[start:])
    return parts


def _item(t: str):
    m = _INFINITY.match(t)
    if m:
        return "-inf" if "-" in (m.group(1) or m.group(2) or "") else "inf"
    return parse_number(t)


def parse_items(text: str) -> tuple | None:
    """'(1, 2]' -> ('(', ']', items); '\\{1,2\\}' and '1, 2' -> ('{', '}', items); None unless all are numbers."""
    t = canon(text)
    if "," not in t or parse_number(text) is not None:  # "1,000" is a number, not a set
        return None
    opener, closer = "{", "}"
    if t[:1] in _OPENERS and t[-1:] in ")]}":
        inner = _split_top(t[1:-1])
        if inner is not None:
            opener, closer, t = t[0], t[-1], t[1:-1]
    if opener == "{" and closer != "}":
        return None
    parts = _split_top(t)
    if not parts or len(parts) < 2:
        return None
    items = []
    for i, part in enumerate(parts):
        if i % 256 == 255:
            budget.check()  # ~0.4 ms an item: a 100,000-character list answer is seconds of parsing
        item = _item(part)
        if item is None:
            return None
        items.append(item)
    return opener, closer, tuple(items)


def _computes_an_item(text: str) -> bool:
    """'(2+4, 1776)' -> True: a list whose items are numbers or expressions still to compute, one at least."""
    t = canon(text)
    if t[:1] in _OPENERS and t[-1:] in ")]}" and _split_top(t[1:-1]) is not None:
        t = t[1:-1]
    parts = _split_top(t) or []
    if len(parts) < 2:
        return False
    for i, part in enumerate(parts):
        if i % 256 == 255:
            budget.check()  # as parse_items: a list answer may be 100,000 characters
        value = part.rsplit("=", 1)[-1]  # "x_1=-1", "\\lambda=2": the value named
        n = parse_number(value, ratio=True)
        if n is not None:
            if n.division:
                return True  # "(6, 3552:2)"
        elif not _INFINITY.match(value) and written_number(value) is None:
            if _OPERATION.search(_unwrapped_number_text(value)):
                return True
    return False


def _divides(items: tuple) -> bool:
    return any(isinstance(x, Number) and x.division for x in items[2])


def _item_equal(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return numbers_equal(a, b)


def _item_keys(item) -> tuple:
    """Keys such that two equal items (under _item_equal) always share one: the 6-place rounding of the value and,
    for a percentage, of the value over 100 (exact equality implies equal roundings)."""
    if isinstance(item, str):
        return (item,)
    if item.percent:
        return (_round(item.value), _round(item.value / 100))
    return (_round(item.value),)


def _covers(xs: tuple, ys: tuple) -> bool:
    """Every x equals some y. Indexed by rounding, so 49,000 items take milliseconds, not minutes; items that share a
    key are still compared pairwise, so the loop checks the sample's budget."""
    index: dict = {}
    for y in ys:
        for key in _item_keys(y):
            index.setdefault(key, []).append(y)
    for i, x in enumerate(xs):
        if i % 256 == 0:
            budget.check()
        candidates = [y for key in _item_keys(x) for y in index.get(key, ())]
        for j, y in enumerate(candidates):
            if j % 256 == 255:
                budget.check()
            if _item_equal(x, y):
                break
        else:
            return False
    return True


def items_equal(a: tuple, b: tuple) -> bool | None:
    """Tuples and intervals compare in order, sets as sets; different bracket kinds are left to math-verify."""
    (oa, ca, xa), (ob, cb, xb) = a, b
    if (oa == "{") != (ob == "{"):
        return None
    if oa == "{":
        return _covers(xa, xb) and _covers(xb, xa)
    if len(xa) != len(xb):
        return False
    if all(_item_equal(x, y) for x, y in zip(xa, xb)):
        return (oa, ca) == (ob, cb)
    return False


@bounded_cache(GOLD_CACHE_SIZE, GOLD_CACHE_CHARS)
def parse_answer(text: str) -> Parsed:
    """Cached: every sample of a prompt shares its gold, so the gold is parsed once per process."""
    plain = eval_text(text)
    number = parse_number(text)
    words = number is None and _CJK.search(extract.TEXT_CMD.sub("", text)) is not None
    canonical = canon(text)
    return Parsed(
        canonical,
        number,
        parse_items(text),
        latex_eval.parse(plain),
        plain,
        words,
        latex_eval.parse_equation(plain),
        _assigned(canonical),
        _int_key(canonical) if _PLAIN_INT.fullmatch(canonical) else None,
        exact.normalize(text),
        _tiny(text) if number is None else None,
    )


def eval_text(text: str) -> str:
    return for_math_verify(extract.unwrap_math(text)).replace("−", "-")


def _int_key(t: str) -> str:
    sign = "-" if t.startswith("-") else ""
    digits = t.lstrip("+-").lstrip("0") or "0"
    return ("" if digits == "0" else sign) + digits


def assigned_name(text: str) -> str | None:
    """'x = 5' -> 'x', 'N_{1}=2' -> 'N_1'; None without a single-letter 'name =' prefix."""
    return _assigned(canon(text))


def _assigned(canonical: str) -> str | None:
    m = _ASSIGN.match(canonical)
    return m.group(0).rstrip("=").replace("{", "").replace("}", "") if m else None


def fast_check(pred: str, gold: str) -> bool | None:
    """True/False when decidable without sympy, else None."""
    g = parse_answer(gold)
    p_canon = canon(pred)
    if not p_canon:
        return False
    if p_canon == g.canon:
        return True
    if g.int_key is not None and _PLAIN_INT.fullmatch(p_canon):  # any length, no int() of 5000 digits
        return _int_key(p_canon) == g.int_key  # (a plain integer names no variable: the check below cannot apply)
    p_name, g_name = _assigned(p_canon), g.assigned
    if p_name and g_name and p_name != g_name:
        return None  # 'y = 3' against 'x = 3': the prefixes may only be dropped when they name the same thing
    if g.number is None and exact.normalize(pred) == g.normalized:
        return True
    p_number = parse_number(pred, ratio=True)
    if g.number is not None and p_number is not None and p_number.division and not g.number.division:
        return False  # "12/2" for 6, "\\frac{3}{6}" for 0.5: a division to carry out (a gold written so accepts any)
    if g.tiny is not None:  # decided here, whatever follows the number (a unit): math-verify would round it to 0
        p = p_number or written_number(pred) or _leading_scientific(pred)
        if p is None or p.percent or p.division:
            return False
        return abs(p.value - g.tiny) <= abs(g.tiny) / 200  # "6.626 \\times 10^{-34}" yes, "0.0" no
    if g.number is not None and p_number is None:
        p_number = written_number(pred)
        if p_number is None and _OPERATION.search(_unwrapped_number_text(pred)):
            return False  # "\\log_2 64", "2+3" for 6, 5: an unevaluated expression is not the value asked for
    if g.number is not None and p_number is not None:
        return numbers_equal(p_number, g.number)
    if g.items is not None:
        items = parse_items(pred)
        if items is None and _computes_an_item(pred):
            return False  # "(2+4, 1776)" for (6, 1776): a list of numbers asks for numbers, as one number does
        if items is not None:
            if _divides(items) and not _divides(g.items):
                return False  # "(12/2, 3552/2)" for (6, 1776), as for one number
            return items_equal(items, g.items)
    if g.words:  # "分层抽样", "1 和 3": matches only as text (math-verify would read its last number)
        return False
    if g.ast is not None and not (g.number and g.number.percent):
        p_text = eval_text(pred)
        return latex_eval.compare(g.ast, g.text, latex_eval.parse(p_text), p_text)
    if g.equation is not None:
        p_text = eval_text(pred)
        return latex_eval.compare_equations(g.equation, g.text, latex_eval.parse_equation(p_text), p_text)
    return None


# When the gold is a number (an integer, decimal, fraction or percentage), the question asks for a value: the answer
# must be written as one. An expression that still computes ("2+3", "\\log_2 64", "\\sqrt{36}", "3!") restates the
# question instead of answering it, and an exam grader would not accept it (docs/answers.md). Number forms kept:
# fractions (parse_number), mixed numbers "1\\frac{1}{2}", scientific notation "3 \\times 10^{4}", "10^{-3}".
_OPERATION = re.compile(
    r"(?<=\S)\s*[-+*/^!×÷·]|\\(?:times|cdot|div|[dt]?frac|sqrt|log|lg|ln|sin|cos|tan|cot|sec|csc|[dt]?binom|choose|pi"
    r"|sum|prod|int|lim|exp|gcd|lcm|max|min|operatorname|lceil|lfloor|[bp]?mod)(?![A-Za-z])|\d\s*\("
    r"|\b(?:gcd|lcm|max|min)\s*\("  # also after canon drops \operatorname: "\operatorname{lcm}(2,3)"
)
_MIXED = re.compile(r"^([-+]?)(\d+)\s*\\frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d))$")
_SCIENTIFIC = re.compile(
    r"^(?:([-+]?\d+(?:\.\d+)?)\s*(?:\\times|\\cdot|×|\*|x)\s*)?10\s*\^\s*(?:\{\s*([-+]?\d{1,3})\s*\}|(\d))$"
)


def _unwrapped_number_text(text: str) -> str:
    t, _ = _strip_decorations(canon_number_text(text))
    return t[1:-1].strip() if t.startswith("(") and t.endswith(")") else t


def written_number(text: str) -> Number | None:
    """A mixed number or scientific notation (the number forms parse_number leaves out), else None."""
    return _mixed_number(text) or _scientific_number(_unwrapped_number_text(text))


def _mixed_number(text: str) -> Number | None:
    """'1\\frac{1}{2}' -> 3/2; None for '6\\frac{0}{2}' or '1\\frac{2}{4}' (a division still to do) and other text."""
    m = _MIXED.match(_unwrapped_number_text(text))
    if not m:
        return None
    num, den = int(m.group(3) or m.group(4)), int(m.group(5) or m.group(6))
    if not 0 < num < den or gcd(num, den) != 1:
        return None
    value = int(m.group(2)) + Fraction(num, den)
    return Number(-value if m.group(1) == "-" else value)


def _scientific_number(t: str) -> Number | None:
    """'3 \\times 10^{4}', '10^{-3}': exact, not a decimal rounded to 6 places, so that 1.0 \\times 10^{-7} is not 0."""
    m = _SCIENTIFIC.match(t)
    if not m:
        return None
    return Number(Fraction(m.group(1) or "1") * Fraction(10) ** int(m.group(2) or m.group(3)))


def _tiny(text: str) -> Fraction | None:
    """'6.63 \\times 10^{-34}' -> its value when below 10^-6, else None (see Parsed.tiny)."""
    n = _scientific_number(_unwrapped_number_text(text))
    if n is None or n.value == 0 or abs(n.value) >= Fraction(1, 10**FLOAT_PLACES):
        return None
    return n.value


# The number a tiny answer starts with, whatever unit follows: "6.63 \\times {10}^{-34} \\text{ J s}", "6.63E-34 J"
_LEADING_SCIENTIFIC = re.compile(
    r"^([-+]?\d+(?:\.\d+)?)\s*(?:(?:\\times|\\cdot|×|\*)\s*\{?10\}?\s*\^\s*\{?\s*([-+]?\d{1,3})\s*\}?|[eE]([-+]?\d{1,3}))"
)


# What may follow it: a unit ("J s", "\\mathrm{J\\,s}", "mol^{-1}", "m/s"), never a number, an operation or a list
_UNIT_TAIL = re.compile(
    r"(?:\s|~|\\[,;: ]|\\(?:text|mathrm|rm|mathit)\s*\{|[{}]|[A-Za-zμΩ°]++|\\cdot|·|/"
    r"|\^\s*\{?\s*-?\d\s*\}?)*+"
)


def _leading_scientific(text: str) -> Number | None:
    t = canon_number_text(text)
    m = _LEADING_SCIENTIFIC.match(t)
    if not m or not _UNIT_TAIL.fullmatch(t, m.end()):
        return None
    return Number(Fraction(m.group(1)) * Fraction(10) ** int(m.group(2) or m.group(3)))


def part_equal(pred: str, gold: str, timeout: float, workers: int, raw: str | None = None) -> bool:
    """`raw`: text math-verify should extract from itself (the response had no boxed answer or marker)."""
    decided = fast_check(pred, gold)
    if decided is not None:
        return decided
    if not _MATHY.search(raw if raw is not None else pred):
        return False  # nothing math-verify could extract: no digit, letter or command
    target = raw if raw is not None else f"\\boxed{{{pred}}}"
    return bool(get_pool(workers).call("math_equal", [for_math_verify(gold), for_math_verify(target)], timeout))


_MATHRM_LETTER = re.compile(r"\\(?:mathrm|mathit|rm)\s*\{\s*~?\s*([A-Za-z])\s*\}")


def for_math_verify(text: str) -> str:
    """math-verify gives up on "\\mathrm{N}_{1}" and "\\mathrm{~N}" (it parses them as "\\frac{"), so
    single upright letters become plain letters and "~" (a LaTeX space) a space."""
    return _MATHRM_LETTER.sub(r"\1", text).replace("~", " ")


# "15 in total", "15 years old", "3/4 of the total", "15 when x = 2": a marked answer that starts with a number and
# runs on into prose states that number. Not after words that hedge, compare or join ("15 or 3", "15 is wrong",
# "15 and 16", "about 15"), nor math words ("2 sin x").
_EITHER = r"either(?!\s+(?:way|case)\b)"  # "15 either way" states 15: not the "either" of "either 15 or 3"
_PROSE_AFTER = re.compile(
    rf"(?<=[\d}}).%])\s*[:：]?\s+(?=(?!(?:or|and|to|is|isn|was|not|nor|plus|minus|times|over|divided|between|{_EITHER}|more"
    r"|less|at|than|approximately|about|around|roughly|nearly|almost|maybe|perhaps|probably|possibly|if|unless|else"
    r"|otherwise|except|sin|cos|tan|cot"
    r"|sec|csc|log|ln|exp|sqrt|pi|mod|pmod|choose|i|e|x|y|z|n|k|m|cm|mm|km|kg|mg|ml|min|hr|hrs|sq|square)\b)[A-Za-z]{2,})"
    r"|(?<=[\d}).%])\s*[:：，,]?\s*(?=[\u4e00-\u9fff]{2,})",
    re.IGNORECASE,
)
_LEADING_MATH = re.compile(r"^[-+−]?\$?[\d\\({]")
_HEDGED_REST = re.compile(
    rf"\b(?:or|{_EITHER}|maybe|perhaps|possibly|probably|might|could|if|unless|else|otherwise)\b|或|还是|也许|可能"
)


def leading_answer(answer: str) -> str:
    """'15 in total' -> '15': the math a marked answer starts with, when prose follows it; else the answer."""
    if not _LEADING_MATH.match(answer):
        return answer
    m = _PROSE_AFTER.search(answer)
    if not m or _HEDGED_REST.search(answer, m.end()):  # "15 apples or 3 apples" names no answer
        return answer
    head = extract.strip_answer(answer[: m.start()])
    return head if head and not _PROSE_AFTER.search(head) else answer


# Alternatives offered as the answer: "15 or 3", "15或3", "15 or maybe 3", "15 (perhaps 3)". A hedge names no answer.
# Not when the gold itself offers alternatives ("x=1 或 x=3") or is a list or set ("1, 3": "x = 1 or x = 3" lists
# both roots), nor when the answer joins relations ("x < 1 or x > 3" is one answer, a union).
_ALTERNATIVE = re.compile(rf"\b(?:or|{_EITHER}|maybe|perhaps|possibly)\b|或者?|还是|也许|可能", re.IGNORECASE)
_RELATION = re.compile(r"[<>≤≥]|\\[lg]eq?(?![A-Za-z])|\\neq?(?![A-Za-z])")
_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![A-Za-z])|[±∓]")  # "\\pm 2" is two values: "x = 2 or x = -2" names both


def hedged(answer: str, gold: str) -> bool:
    """The answer offers two or more alternatives where the gold is one value."""
    if (
        not _ALTERNATIVE.search(answer)
        or _ALTERNATIVE.search(gold)
        or _RELATION.search(answer)
        or _PLUS_MINUS.search(gold)
    ):
        return False
    if parse_answer(gold).items is not None:
        return False
    parts = [p for p in _ALTERNATIVE.split(extract.TEXT_CMD.sub(r" \1 ", answer)) if p.strip(" ,，、()（）$\\")]
    return len(parts) >= 2


def check(response: str, answers: tuple[str, ...], *, settings, question=None) -> Check:
    """Raises VerifierTimeout / VerifierFailed from the pool; the caller turns them into reasons."""
    timeout, workers = settings.timeout, settings.verify_workers
    answer, source = extract.find_answer(response)
    if len(answers) == 1 and _SIMPLE_NUMBER.fullmatch(answer):
        # The common case: a plain number ("42", "-3.5"): no prose after it, no hedge, nothing for math-verify.
        decided = fast_check(answer, answers[0])
        if decided is not None:
            return plain_check(decided, source)
    if source == extract.MARKER_SOURCE and len(answers) == 1:
        answer = leading_answer(answer)
    got = exact.split_parts(answer, len(answers))
    if len(got) != len(answers):
        return plain_check(False, source)
    if len(answers) == 1 and hedged(answer, answers[0]):
        return plain_check(False, source)
    raw = None
    if len(answers) == 1 and source != extract.BOXED:
        # Only the answer span goes to math-verify, never the response: it would read the last number anywhere
        # ("27 is larger than 94." -> 94), which is how a reward pays for an answer the response did not give.
        raw = answer if "$" in answer else f"${answer}$"
    for p, g in zip(got, answers):
        budget.check()  # a label of many parts is bounded as a whole, not per part (docs/limits.md)
        if not part_equal(p, g, timeout, workers, raw):
            return plain_check(False, source)
    return plain_check(True, source)


def instruction(n_answers: int) -> str:
    """The final-answer form `check` extracts (appended to prompts by `prepare`)."""
    if n_answers == 1:
        return "Put your final answer in \\boxed{}."
    return f"This question has {n_answers} parts. Put the {n_answers} final answers in order in \\boxed{{}}, separated by '; '."
