"""Find the answer a response gives, without sympy: the cheap step every verifier starts with.

The answer is what a response *states*, not any letter or number it mentions:
- a marked answer (`\\boxed{}`, "The answer is", "Final answer:", "Answer:", "####", "答案是/为", "故选", "【答案】",
  "X is the answer") is the expression right after the marker. The LAST marker wins (a later one is a revision);
  within its span the FIRST complete answer counts, so explanations, checks, units, confidence or step counts after
  it ("The answer is 15. This took me 3 tries.") never change the verdict;
- a response that is nothing but an answer ("94", "$\\frac12$.", "(B)") is a bare answer;
- anything else is a guess read from the last line (lenient mode only: the strict answer format gives it reward 0).
  A guess never takes a number out of prose that states another: "27 is larger than 94." states 27.

Only the tail of a response is scanned (a final answer sits at the end; a 1 MB response must cost no more than a
short one), and every pattern here is linear-time so no input can make it crawl.
"""

import re
from fractions import Fraction

from openrlhf_rlev.verifiers import latex_eval
from openrlhf_rlev.verifiers.unicode_math import nfkc  # not plain NFKC: that reads 2³ as 23 and x² as x2

BOXED, MARKER_SOURCE, BARE, GUESS = "boxed", "marker", "bare", "guess"
SOURCES = (BOXED, MARKER_SOURCE, BARE, GUESS)

# "答案是 D", "答案：D", "【答案】D", "故选 B", "故答案为 3", "The answer is (B)", "Final answer: 42", "**Answer:** 7",
# "#### 72" (GSM8K), "the correct option is C", "the result is 6".
# The lookahead names every first character a marker can start with: Python's regex engine then skips every other
# position at once instead of trying each alternative there (2-3x faster on the scan every reward call makes).
MARKER = re.compile(
    r"(?=[【最正故所因答应只#tfca])"
    r"(?:【\s*答案\s*】|(?:最终|正确|故|所以|因此)?答案\s*(?:是|为|应为|应是|应该是|选)?\s*[:：]?"
    r"|(?<![\u4e00-\u9fff])答\s*[:：](?=\s*[-+$\\\d(A-G选])"  # "答：15", the closing line of a word problem
    r"|(?:故|所以|因此|应|只能)选\s*[:：]?"
    r"|(?<!#)####(?!#)"
    r"|(?:the\s+)?(?:(?:final|correct)\s+(?:answer|option|choice)\s*(?:is|:|=)?|answer\s*(?:is|:|=))\s*(?:\*\*)?\s*[:：]?)",
    re.IGNORECASE,
)
# "22 is the answer.", "B is correct" (the answer before the marker), on one line.
POSTFIX = re.compile(
    r"^\s*(?:so|thus|hence|therefore)?[,\s]*(.{1,80}?)\s+is\s+(?:the\s+)?(?:(?:final|correct)\s+)?answer\b",
    re.IGNORECASE,
)
MAX_TAIL = 4000
# End-of-sequence and padding text of common chat models: stripped from a response's tail
# (OpenRLHF's adapter adds RLEV_EXTRA_EOS).
EOS_TEXTS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|end|>",
    "</s>",
    "<eos>",
    "<end_of_turn>",
    "<｜end▁of▁sentence｜>",
    "<pad>",
    "[PAD]",
    "<|finetune_right_pad_id|>",
)


# GAOKAO-Bench's <eoa> plus the chat models' end/pad texts that the reward file strips from the response tail.
_END_TOKENS = re.compile("|".join(re.escape(t) for t in ("<eoa>", *EOS_TEXTS)), re.IGNORECASE)
# \text{B}, \mathrm{cm}, ...: one definition for every verifier that unwraps them.
TEXT_CMD = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_TRAILING = " \t.。;；,，:：*`"  # not "!": 5! is an answer; "`15`" is markdown code
_MATH_DELIMS = re.compile(r"^(?:\$\$?|\\\(|\\\[)\s*(.*?)\s*(?:\$\$?|\\\)|\\\])$", re.DOTALL)
# Where the first complete answer of a span ends: a sentence end, a clause in words, a parenthetical remark.
_SPAN_END = re.compile(
    r"[.。!?！？](?=\s|$)"  # "15. This took me 3 tries"; "3.5" and "5!" stay whole
    r"|[,，;；]\s*(?=(?:which|because|since|as|so|and|but|not|i|we|this|that|it|after|with|though|although)\b)"
    r"|[,，;；]\s*(?!(?:或|也许|可能|也可能)[^,，;；。\d]*\d)(?=[\u4e00-\u9fff])"  # "15，因为……"; "15，或3" is a hedge
    r"|\s+(?=(?:because|since|which|but|after|though|although|i\s|we\s|this\s+(?:took|is|was)|as\s+(?:we|i|it))\b)"
    r"|\s+and\s+(?=[A-Za-z]{2,})"  # "15 and I checked it"; "A and C" stays whole
    r"|\s*[(（](?!\s*(?:(?:or|either)\b|或|还是|(?:(?:maybe|perhaps|possibly)\b|也许|可能)[^)）\d]*\d))"
    r"(?=[^)）]*(?:[A-Za-z]{3,}|[\u4e00-\u9fff]{2,}))",  # "15 (I checked 3 times)";
    # "15 (or possibly 3)", "15 (perhaps 3)", "15（或者是3）" are hedges, kept whole; "15 (possibly wrong)" is a remark
    re.IGNORECASE,
)
# The words that make a line prose rather than an answer (LaTeX commands and short unit words aside).
_WORD = re.compile(r"(?<![\\A-Za-z])(?:[A-Za-z]{3,}|(?:is|or|of|to|be|it|as|so|if)\b)|[\u4e00-\u9fff]{2,}", re.I)
# "6 + 4 = 10": an equation whose left side is arithmetic states its right side.
_ARITHMETIC_LHS = re.compile(
    r"^\s*\$?\s*\(?\d[\d.,]*\)?(?:\s*(?:[-+*/×÷·]|\\times|\\cdot|x)\s*\(?\d[\d.,]*\)?)+\s*=(?!=)"
)
_MATHY = re.compile(r"[\d$\\]")
_LEADING_NUMBER = re.compile(r"^\s*(?:\$\s*)?([-+]?\d[\d,]*(?:\.\d+)?)(?:\s*\$)?\s+(?:is|are|was|were|will|would)\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*")
# A denial: "15 is not the answer.", "It is not 15.", "15 is wrong", "答案不是15": a guess never reads it as a claim.
_DENIAL = re.compile(r"\b(?:not|never|wrong|incorrect|isn't|aren't|wasn't)\b|n't\b|不是|不对|错", re.IGNORECASE)


def tail(text: str) -> str:
    return text[-MAX_TAIL:]


def clean_text(text: str) -> str:
    """Drop end-of-answer tokens that chat templates and GAOKAO prompts leave in the text."""
    if "<" not in text and "[" not in text:  # every token starts with one of these: skip the scan
        return text
    return _END_TOKENS.sub("", text)


def _boxed_at(text: str, start: int) -> tuple[str, int] | None:
    """(content, end) of the \\boxed{...} / \\fbox{...} starting at `start`, braces balanced; `\\boxed 5` counts."""
    j = start + (6 if text.startswith("\\boxed", start) else 5)
    if j < len(text) and text[j] == " ":
        rest = text[j:].lstrip()
        if rest and rest[0] != "{":
            m = re.match(r"[^\s$]+", rest)
            return (m.group(0).strip(), len(text) - len(rest) + m.end()) if m else None
    i = text.find("{", j)
    if i < 0 or text[j:i].strip():
        return None
    depth = 0
    for k in range(i, len(text)):
        ch = text[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : k].strip(), k + 1
    return None


def _last_boxed_start(text: str) -> int:
    return max(text.rfind("\\boxed"), text.rfind("\\fbox"))


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced; `\\boxed 5` counts too."""
    start = _last_boxed_start(text)
    if start < 0:
        return None
    found = _boxed_at(text, start)
    return found[0] if found else None


def markers(text: str, pos: int = 0) -> list:
    """The non-empty answer-marker matches from `pos` on: one scan of the tail (the costliest step of a reward call),
    shared by whoever needs the markers."""
    return [m for m in MARKER.finditer(text, pos) if m.end() > m.start()]


def last_marker(text: str):
    """The last non-empty answer-marker match, or None."""
    found = markers(text)
    return found[-1] if found else None


# What follows "answer is" in a remark about an answer, not in a statement of one: "I hope this answer is helpful",
# "Check: the answer is consistent with ...", "Note: the answer is an integer", "检验：答案是正确的". Such a marker is
# not a revision: the answer stated before it stands.
_REMARK = re.compile(
    r"(?:correct|reasonable|consistent|helpful|unclear|valid|plausible|accurate|acceptable|sensible"
    r"|verified|confirmed|as\s+follows|in\s+(?:agreement|line)"
    r"|an?\s+(?:integer|whole|positive|negative|real|rational|irrational|natural|even|odd|prime|number|fraction))\b"
    r"|(?:正确|合理|符合|无误|准确)",
    re.IGNORECASE,
)
# "the answer is indeed 15": an adverb before the answer is not part of it.
_ADVERB = re.compile(
    r"^(?:indeed|clearly|therefore|thus|hence|still|definitely|certainly|actually|really|just|simply|obviously)"
    r"\b[\s,]*",
    re.IGNORECASE,
)


# "The answer is not D", "the answer isn't 15", "答案不是D": the marker denies an answer instead of stating one. As the
# last marker it is a revision that names no answer (reward 0), unless it goes on to give one ("not B but C",
# "不是B，而是C"). "the answer is not correct / not an integer" is a remark (_REMARK), not a denial.
_DENIAL_START = re.compile(
    r"^(?:is\s+)?(?:not|n't|never)\b|^(?:(?:并|绝|肯定|一定|绝对)?不(?:是|为|应选|选|应是|会是|可能是)|并非)",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"(?:\b(?:but|rather|instead)\b|而是|应是|应为|应选|[,;，；]\s*(?:it'?s\b|it\s+is\b|是))\s*(?:(?:it\s+)?is\s+)?[:：]?\s*",
    re.I,
)  # "not B but C", "不是B，而是C", "not 15, it's 3", "不是15，是3"
_DENIAL_REMARK = re.compile(r"(?:wrong|incorrect|right)\b|错|对", re.IGNORECASE)


def _is_remark(region: str) -> bool:
    """'correct', 'an integer', and their denials 'not correct', 'not wrong', '不是正确的': about the answer."""
    m = _DENIAL_START.match(region)
    rest = region[m.end() :].strip() if m else region
    return bool(_REMARK.match(rest) or (m and _DENIAL_REMARK.match(rest)))


def denied(region: str) -> str | None:
    """None when a marker's region does not deny; else what the denial goes on to state ("" for nothing):
    'not D.' -> '', 'not B but C' -> 'C', '不是B，而是C' -> 'C'."""
    return _denied(_ADVERB.sub("", region.strip()))


def _denied(text: str) -> str | None:
    """denied() of a region already stripped of its leading adverb."""
    m = _DENIAL_START.match(text)
    if not m or _is_remark(text):
        return None
    rest = text[m.end() :].strip()
    c = _CORRECTION.search(rest)
    if c is None and _NAMES_NOTHING.fullmatch(_span(rest)):
        return None  # "答案：不是", "不为零", "the answer is never / not possible": the negative is the answer itself
    return rest[c.end() :] if c else ""


def denied_span(region: str) -> str:
    """What a denying marker denies: 'not D.' -> 'D', '答案不是15' region '不是15' -> '15' ('' if not a denial)."""
    text = _ADVERB.sub("", region.strip())
    m = _DENIAL_START.match(text)
    return _span(_DENIED_FILLER.sub("", text[m.end() :].strip())) if m else ""


# Words between a negation and what it denies: "not equal to 15", "not option D", "不等于15", "不是选项D".
_DENIED_FILLER = re.compile(r"^(?:(?:equal\s+to|the\s+option|option|choice|等于|选项|选)\s*)+", re.IGNORECASE)


def same_answer(a: str, b: str) -> bool:
    """Whether two answer spans state the same thing, textually ('15' and '15.0' by value)."""
    a, b = (re.sub(r"[\s$]+", "", x).rstrip(".。").lower() for x in (a, b))
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


# What a negation is followed by when it denies nothing: nothing, lowercase words, or Chinese words alone (no digit,
# formula or option letter: "not D", "not option D", "不是B", "not equal to 15" stay denials).
_NAMES_NOTHING = re.compile(
    r"[\s.,;:!?。，；：！？]*|[a-z]{2,}(?:[\s-]+[a-z]{2,})*[\s.,!?]*|[\u4e00-\u9fff]+[\s。，！？]*"
)


def stating_marker(text: str, found: list | None = None):
    """The last answer marker that states an answer (not a remark about one), or None (find_answer then falls back
    to a boxed answer, else to the last marker). `found`: markers(text), if already scanned."""
    return _stating(text, markers(text) if found is None else found)[0]


def _stating(text: str, found: list):
    """(stating_marker, its region without the leading adverb), or (None, None)."""
    for m in reversed(found):
        body = _ADVERB.sub("", marker_region(text, m).strip())
        if not _is_remark(body):
            return m, body
    return None, None


def marker_region(text: str, m) -> str:
    """What follows a marker: the rest of its line, or the next non-empty line when the line ends at the marker."""
    rest = text[m.end() :].lstrip(" \t:：*")
    line, _, after = rest.partition("\n")
    if not line.strip():
        for nxt in after.split("\n"):
            if nxt.strip():
                return nxt.strip()
        return ""
    return line


def answer_span(region: str) -> str:
    """The first complete answer of a marker's region: 'The answer is 15. I tried 3 times' -> '15'."""
    return _span(_ADVERB.sub("", region.strip()))


def _span(text: str) -> str:
    """answer_span() of a region already stripped of its leading adverb."""
    if text.startswith("$"):  # a whole formula: its closing delimiter ends the answer
        close = text.find("$$", 2) + 2 if text.startswith("$$") else text.find("$", 1) + 1
        if close > 0:
            return strip_answer(text[:close])
    if text.startswith("\\(") or text.startswith("\\["):
        close = text.find(text[0] + (")" if text[1] == "(" else "]"), 2)
        if close > 0:
            return strip_answer(text[: close + 2])
    m = _SPAN_END.search(text, 1)  # never an empty span: "(B)" and "(1, 2)" start with their bracket
    return strip_answer(text[: m.start()] if m else text)


def unwrap_math(text: str) -> str:
    """NFKC, and the $...$, \\(...\\) or \\[...\\] around a whole answer removed."""
    t = nfkc(text).strip()
    m = _MATH_DELIMS.match(t)
    return m.group(1) if m else t


def strip_answer(text: str) -> str:
    """'$\\frac12$.' -> '\\frac12': the punctuation and delimiters around a final answer are not part of it."""
    t = nfkc(text).strip().strip(_TRAILING).strip()
    m = _MATH_DELIMS.match(t)
    if m:
        t = m.group(1).strip().strip(_TRAILING).strip()
    return t


def last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()
    return ""


def is_bare(text: str) -> bool:
    """A response that is only an answer: one short line with no prose ('94', '$x = 3$.', '(B)', '5 cm')."""
    t = text.strip()
    if not t or "\n" in t or len(t) > 200:
        return False
    return not _WORD.search(TEXT_CMD.sub("", strip_answer(t)))


def guess(line: str) -> str:
    """The answer a prose line states, for lenient mode: after its last '=' ('62 + 7 = 13.' -> '13'), its subject
    number ('27 is larger than 94.' -> '27'), or the line itself when it names at most one number; nothing from a
    line that denies ('15 is not the answer.')."""
    if _DENIAL.search(line):
        return ""
    if "=" in line and not re.search(r"[<>≤≥]|\\[lg]eq?", line):
        before, _, after = line.rpartition("=")
        right = answer_span(after)
        # "62 + 7 == 13" and "\\(62 + 7 = 13\\)" end their sums as "62 + 7 = 13" and "$62 + 7 = 13$" do
        sums = _TRAILING_SUM.search(before.rstrip().rstrip("=").replace("\\(", "$"))
        if sums and _constant_equal(sums.group(0), right) is False:
            return ""  # "So 62 + 7 = 13.": a false equation states nothing
        return right
    m = _LEADING_NUMBER.match(line)
    if m:
        return m.group(1)
    numbers = _NUMBER.findall(line)
    if len(numbers) == 1 and _WORD.search(line):
        return numbers[0]  # "We get 12 apples" -> 12
    return answer_span(line)


# The worked sum a prose line ends its equation with: "So 62 + 7" of "So 62 + 7 = 13."
_TRAILING_SUM = re.compile(r"[-+(\d][\d\s.,()+\-*/×÷·x]*$|\$[^$]*$")
_LEADING_NUMBER_ONLY = re.compile(r"^\s*\$?\s*([-+]?\d[\d,]*(?:\.\d+)?)")
_PERCENT_SIGN = re.compile(r"\s*\\?[%％]")
_TIMES_X = re.compile(r"(?<=[\d)])\s*x\s*(?=[(\d])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _constant_side(text: str) -> str:
    t = text.strip().strip("$").strip()
    t = t.replace("×", "*").replace("÷", "/").replace("·", "*").replace("\\div", "/")
    return _THOUSANDS.sub("", _TIMES_X.sub("*", t))


_SIMPLE_SUM = re.compile(r"^\s*\$?\s*(\d{1,15})\s*([-+*/×÷x·]|\\times|\\cdot|\\div)?\s*(\d{1,15})?\s*\$?\s*$")
_PLAIN_NUMBER = re.compile(r"^\s*\$?\s*([-+]?\d{1,15}(?:\.\d{1,15})?)\s*\$?\s*$")


def _simple_sum(left: str, right: str) -> bool | None:
    """The common case without a parser: 'a op b' (or 'a') against a plain number; None for anything else."""
    m, r = _SIMPLE_SUM.match(left), _PLAIN_NUMBER.match(right)
    if not m or not r or (m.group(2) is None) != (m.group(3) is None):
        return None
    a, op = int(m.group(1)), m.group(2)
    if op is not None:
        b = int(m.group(3))
        if op == "+":
            a += b
        elif op == "-":
            a -= b
        elif op in ("/", "÷", "\\div"):
            if b == 0:
                return None
            a = Fraction(a, b)
        else:
            a *= b
    right = r.group(1)
    return a == (Fraction(right) if "." in right else int(right))


def _constant_equal(left: str, right: str, units: bool = True) -> bool | None:
    """'6 + 4' vs '10' -> True, '16' vs '15' -> False, anything with a variable or words -> None. With `units`, the
    right side may carry a unit after its number ('10 apples')."""
    fast = _simple_sum(left, right)
    if fast is not None:
        return fast
    verdict = latex_eval.constant_equal(_constant_side(left), _constant_side(right))
    if verdict is None and units and _ARITHMETIC_LHS.match(left + "="):
        number = _LEADING_NUMBER_ONLY.match(right)
        if number:
            value = _constant_side(number.group(1))
            if _PERCENT_SIGN.match(right, number.end()):  # "3/4 = 75%": the right side is 75/100, not 75
                value = f"({value})/100"
            verdict = latex_eval.constant_equal(_constant_side(left), value)
    return verdict


_RELATION_SIGN = re.compile(r"[<>≤≥]|\\[lg]eq?|\\neq")
_NOT_ONE_CHAIN = re.compile(r"[,;，；]|\\\\|\\text|\band\b")  # "x = 2, y = 3 = z": two statements, not one chain


def _chain(answer: str) -> str:
    """'x = 12/2 = 6' -> '6': a chain whose first side is one name and whose other sides are constants, each equal to
    the next, states its last side when that is a plain number. Anything else stays whole and is compared as before,
    so a chain only gains: '2.333 = 2.33' (a rounding) and 'x = 5 = 6' are math-verify's, as they were."""
    sides = answer.split("=")
    named = len(sides[0].split()) <= 1  # 'x', 'P(A)', 'a_n': a name; '6 or 7 = 3+4 = 7' is not one
    links = zip(sides[1:], sides[2:])  # constants only, no unit on a side ('6 ≠ 7', '6 或 7' are not constants)
    if named and _PLAIN_NUMBER.match(sides[-1]) and all(_constant_equal(a, b, units=False) for a, b in links):
        return strip_answer(sides[-1])
    return answer


def stated(answer: str) -> str | None:
    """'6 + 4 = 10' -> '10': the result of a worked sum is what it states; 'y = 2x' and 'x^2+y^2=1' stay whole.
    A false equation of constants ('16 = 15', '7 + 7 = 12') states nothing: None, never its right side. Chains of
    two or more '=' by `_chain`."""
    if "=" not in answer:
        return answer
    if answer.count("=") == 1 and not _RELATION_SIGN.search(answer):
        left, right = answer.split("=")
        verdict = _constant_equal(left, right)
        if verdict is False:
            return None
        if verdict and _PLAIN_NUMBER.match(left) and not _PLAIN_NUMBER.match(right):
            return strip_answer(left)  # "1776 = 3552/2" states 1776: the number, not the division it equals
        if verdict or _ARITHMETIC_LHS.match(answer):
            return strip_answer(right)
    elif not _RELATION_SIGN.search(answer) and not _NOT_ONE_CHAIN.search(answer):
        return _chain(answer)
    return answer


def find_answer(text: str) -> tuple[str, str]:
    """(answer, source), source one of SOURCES; see the module docstring for the rules."""
    t = clean_text(tail(text))
    b_start = _last_boxed_start(t)
    boxed = _boxed_at(t, b_start) if b_start >= 0 else None
    # With a non-empty box only a marker after it can override it: scan from the box on, once.
    found = markers(t, b_start if boxed and boxed[0] else 0)
    m, body = _stating(t, found)
    if m is None and not (boxed and boxed[0]) and found:
        m = found[-1]
        body = _ADVERB.sub("", marker_region(t, m).strip())
    if boxed and boxed[0] and (m is None or m.end() <= b_start):
        return stated(strip_answer(boxed[0])) or "", BOXED
    if m is not None:
        correction = _denied(body)
        if correction:  # "not B but C": the last marker gives its own answer
            return stated(answer_span(correction)) or "", MARKER_SOURCE
        if correction is not None:
            # "The answer is not D." revokes an earlier "D" (no answer); a denial of another value ("The answer is
            # 15. Hence the answer is not 3.") leaves the answer stated before it standing.
            before = find_answer(t[: m.start()])
            if before[0] and not same_answer(before[0], stated(denied_span(body)) or ""):
                return before
            return "", MARKER_SOURCE
        span = _span(body)
        if span:
            return stated(span) or "", MARKER_SOURCE
    if boxed and boxed[0]:
        return stated(strip_answer(boxed[0])) or "", BOXED
    stripped = t.strip()
    if is_bare(stripped):
        return stated(strip_answer(stripped)) or "", BARE
    line = last_line(t)
    if not _MATHY.search(line):  # "8 + 2 = 10\n\nI'm sorry for any confusion.": the last line with an answer
        line = next((x.strip() for x in reversed(t.splitlines()) if _MATHY.search(x)), line)
    post = POSTFIX.match(line)
    if post:  # "7 + 7 = 14, which is the answer.": a worked sum states its result, a false one nothing
        return stated(answer_span(post.group(1))) or "", MARKER_SOURCE
    return guess(line), GUESS


def final_answer_with_source(text: str) -> tuple[str, str]:
    """Kept for callers of the earlier API: the same as find_answer."""
    return find_answer(text)


def final_answer(text: str) -> str:
    """The answer a response gives (find_answer without its source)."""
    return find_answer(text)[0]
