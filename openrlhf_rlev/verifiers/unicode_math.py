"""Unicode normalisation for answers that never changes what a number means (used wherever answers are NFKC'd)."""

import re
import unicodedata

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ"
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎"
_PLAIN = "0123456789+-=()ni"
_SCRIPT_RUN = re.compile(f"[{_SUPERSCRIPTS}]+|[{_SUBSCRIPTS}]+")
_VULGAR = re.compile("[\u00bc-\u00be\u2150-\u215e\u2189]")
_FRACTION_SLASH = "\u2044"


_TO_PLAIN = str.maketrans(_SUPERSCRIPTS + _SUBSCRIPTS, _PLAIN + _PLAIN[:15])


def _script(m: re.Match) -> str:
    run = m.group(0)
    mark = "^" if run[0] in _SUPERSCRIPTS else "_"
    plain = run.translate(_TO_PLAIN)
    return f"{mark}{plain}" if len(plain) == 1 else f"{mark}{{{plain}}}"


def _vulgar(m: re.Match) -> str:
    num, _, den = unicodedata.normalize("NFKC", m.group(0)).partition(_FRACTION_SLASH)
    mixed = m.start() > 0 and m.string[m.start() - 1].isdigit()
    return f"{' ' if mixed else ''}{num}/{den}"  # 1½ is the mixed number "1 1/2", never 11/2


def nfkc(text: str) -> str:
    """NFKC that keeps what a number means. NFKC alone writes 2³ as 23, x² as x2 and 1½ as 11⁄2: superscript and
    subscript runs become ^ / _ (x² -> x^2, 2³ -> 2^3, a⁻¹ -> a^{-1}) and vulgar fractions a/b (1½ -> "1 1/2") first;
    everything else (full-width letters and digits, compatibility forms) is NFKC's."""
    if text.isascii():  # ASCII is NFKC-stable and has no script or vulgar-fraction characters: most answers
        return text
    text = _SCRIPT_RUN.sub(_script, text)
    text = _VULGAR.sub(_vulgar, text).replace(_FRACTION_SLASH, "/")
    return unicodedata.normalize("NFKC", text)
