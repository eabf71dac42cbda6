"""The judge's prompt template: the default, and user template files checked when the setting is read.

Separate from the judge itself so that settings can validate `judge_template_file` at launch (a bad template stops
the run instead of zeroing every reward) without importing the judge.
"""

import os
import string
import threading

PLACEHOLDERS = ("question", "response", "reference")
REQUIRED = ("response", "reference")

DEFAULT_TEMPLATE = """You are checking a student's final answer against the reference answer.

Question:
{question}

Student's final answer (the last line of the student's response):
{response}

Reference answer:
{reference}

Does the student's final answer agree with the reference answer? Equivalent forms of the same answer agree \
(for example 1/2 and 0.5, or an option letter and the text of that option). If the student's answer is \
missing, incomplete, ambiguous or unclear, it does not agree.
Reply with strictly one word: YES or NO."""

_template_cache: dict = {}
_template_lock = threading.Lock()


class TemplateError(ValueError):
    pass


def validate_template(text: str, source: str = "judge template") -> str:
    """Python format syntax with only {question}, {response}, {reference}; write literal braces as {{ }}."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError as e:
        raise TemplateError(f"{source}: not a valid template ({e}); write literal braces as {{{{ and }}}}") from None
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or spec or conv:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise TemplateError(
                f"{source}: unknown placeholder {shown}; allowed: {{question}}, {{response}}, {{reference}} "
                "(write literal braces as {{ and }})"
            )
    missing = [name for name in REQUIRED if name not in {f[0] for f in fields}]
    if missing:
        raise TemplateError(f"{source}: missing placeholder(s) {', '.join('{' + m + '}' for m in missing)}")
    return text


def load_template(path: str) -> str:
    """Read and validate a template file; cached until the file changes."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise TemplateError(f"judge template file {path!r}: {e.strerror or e}") from None
    key = (path, st.st_mtime_ns, st.st_size)
    with _template_lock:
        hit = _template_cache.get(key)
    if hit is not None:
        return hit
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"judge template file {path!r}: cannot read it as UTF-8 text: {e}") from None
    validate_template(text, source=f"judge template file {path!r}")
    with _template_lock:
        if len(_template_cache) > 16:
            _template_cache.clear()
        _template_cache[key] = text
    return text
