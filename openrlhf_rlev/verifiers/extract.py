"""Find the final answer in free text, without sympy: the cheap step every verifier starts with."""

import re

# "答案是 D", "答案：D", "【答案】D", "故选 B", "The answer is (B)", "Final answer: 42".
MARKER = re.compile(
    r"(?:【\s*答案\s*】|答案\s*(?:是|为|应为|应是)?\s*[:：]?|故选\s*[:：]?|应选\s*[:：]?|所以选\s*[:：]?"
    r"|(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)?\s*[:：]?)",
    re.IGNORECASE,
)
MAX_TAIL = 4000  # a final answer sits near the end; never regex-scan a megabyte


def tail(text: str) -> str:
    return text[-MAX_TAIL:]


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def after_last_marker(text: str) -> str | None:
    """Rest of the line after the last answer marker."""
    last = None
    for last in MARKER.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end() :].lstrip()
    line = rest.split("\n", 1)[0].strip()
    return line or None


def last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()
    return ""


def final_answer(text: str) -> str:
    """\\boxed{} wins, then an answer marker, then the last non-empty line."""
    t = tail(text)
    for found in (last_boxed(t), after_last_marker(t)):
        if found:
            return found
    return last_line(t)
