"""Find the final answer in free text, without sympy: the cheap step every verifier starts with.

Only the tail of a response is scanned (a final answer sits at the end; a 1 MB response must cost
no more than a short one), and every pattern here is linear-time so no input can make it crawl.
"""

import re

from openrlhf_rlev.verifiers.unicode_math import nfkc  # not plain NFKC: that reads 2³ as 23 and x² as x2

# "答案是 D", "答案：D", "【答案】D", "故选 B", "故答案为 3", "The answer is (B)", "Final answer: 42", "**Answer:** 7".
MARKER = re.compile(
    r"(?:【\s*答案\s*】|(?:最终|正确|故|所以|因此)?答案\s*(?:是|为|应为|应是|选)?\s*[:：]?"
    r"|(?:故|所以|因此|应|只能)选\s*[:：]?"
    r"|(?:the\s+)?(?:(?:final|correct)\s+answer\s*(?:is|:|=)?|answer\s*(?:is|:|=))\s*(?:\*\*)?\s*[:：]?)",
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
_TRAILING = " \t.。;；,，:：*"  # not "!": 5! is an answer
_MATH_DELIMS = re.compile(r"^(?:\$\$?|\\\(|\\\[)\s*(.*?)\s*(?:\$\$?|\\\)|\\\])$", re.DOTALL)


def tail(text: str) -> str:
    return text[-MAX_TAIL:]


def clean_text(text: str) -> str:
    """Drop end-of-answer tokens that chat templates and GAOKAO prompts leave in the text."""
    return _END_TOKENS.sub("", text)


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced; `\\boxed 5` counts too."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    j = start + (6 if text.startswith("\\boxed", start) else 5)
    if j < len(text) and text[j] == " ":
        rest = text[j:].lstrip()
        if rest and rest[0] != "{":
            m = re.match(r"[^\s$]+", rest)
            return m.group(0).strip() if m else None
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
                return text[i + 1 : k].strip()
    return None


def after_last_marker(text: str) -> str | None:
    """Rest of the line after the last answer marker, trailing punctuation and math delimiters removed."""
    last = None
    for m in MARKER.finditer(text):
        if m.end() > m.start():
            last = m
    if last is None:
        return None
    line = text[last.end() :].lstrip(" \t:：").split("\n", 1)[0]
    found = strip_answer(line)
    return found or None


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


def final_answer_with_source(text: str) -> tuple[str, str]:
    """(answer, where it came from): 'boxed', 'marker' or 'line' (the last non-empty line, a guess)."""
    t = clean_text(tail(text))
    boxed = last_boxed(t)
    if boxed:
        return strip_answer(boxed), "boxed"
    marked = after_last_marker(t)
    if marked:
        return marked, "marker"
    return strip_answer(last_line(t)), "line"


def final_answer(text: str) -> str:
    """\\boxed{} wins, then an answer marker, then the last non-empty line."""
    return final_answer_with_source(text)[0]
