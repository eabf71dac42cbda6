"""Evaluate a small, unambiguous subset of LaTeX with floats: the fast path for surds, pi and polynomials.

Two expressions without relations are equal for math-verify when sympy simplifies their difference to
0. Evaluating both at a few fixed non-integer points decides most such pairs in microseconds: a clear
difference at any point means "not equal"; relative agreement to 1e-9 at every point means "equal" (sympy
would simplify a polynomial or surd difference to 0), but only when every value met lies in [1e-6, 1e6]:
outside that range a real difference (0 against 6.63e-34, 10^{12} + 1 against 10^{12}) hides in float
rounding. Rational constants are compared exactly instead. Anything outside the subset, any ambiguity of
LaTeX precedence (`1/2x`, `\\ln 2x`, the mixed number `1\\frac12`, the statement list `(2)(3)`), and any
overflow or domain error returns None: sympy decides those.
"""

import math
import re
from fractions import Fraction

MAX_LEN = 300
MAX_EXPONENT = 64
_TOKEN = re.compile(
    r"\s*(\d+\.\d*|\.\d+|\d+|\\[A-Za-z]+|\\[,;:! ]|[A-Za-z]_(?:\{[A-Za-z0-9]+\}|[A-Za-z0-9])|[A-Za-z]|[-+*/^(){}\[\]])"
)
_SKIP = {"\\left", "\\right", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\displaystyle"}
_TIMES = {"*", "\\cdot", "\\times"}
_FRAC = {"\\frac", "\\dfrac", "\\tfrac"}
_FUNCS = {"\\ln": math.log, "\\sin": math.sin, "\\cos": math.cos}
_BANNED_LETTERS = set("eiE")  # Euler's number / the imaginary unit in sympy's reading: not worth guessing


class Unsupported(Exception):
    pass


def tokenize(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise Unsupported(text[pos : pos + 10])
        pos = m.end()
        tok = m.group(1)
        if tok not in _SKIP:
            out.append(tok)
    return out


class _Parser:
    """Recursive descent to a tuple AST: ('n', v) ('v', name) ('+', a, b) ('*', a, b) ('/', a, b) ('^', a, b) ..."""

    def __init__(self, tokens: list[str]):
        self.toks = tokens
        self.i = 0
        self.slash = False

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unsupported(f"expected {expected!r}, got {tok!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek() is not None:
            raise Unsupported(f"trailing {self.peek()!r}")
        return node

    def expr(self):
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            node = ("+", node, rhs) if op == "+" else ("-", node, rhs)
        return node

    def starts_primary(self, tok) -> bool:
        return tok is not None and (
            tok[0].isdigit()
            or tok[0] == "."
            or tok[0].isalpha()
            or tok in ("(", "{")
            or tok in _FRAC
            or tok in ("\\sqrt", "\\pi")
            or tok in _FUNCS
        )

    def term(self):
        node = self.unary()
        after_slash = False
        while True:
            tok = self.peek()
            if tok in _TIMES:
                self.take()
                node, after_slash = ("*", node, self.unary()), False
            elif tok == "/":
                self.take()
                node, after_slash = ("/", node, self.unary()), True
            elif self.starts_primary(tok):
                if after_slash:
                    raise Unsupported("implicit product after '/' is ambiguous")
                rhs = self.power()
                if tok in _FRAC or tok == "(":
                    _refuse_constant_juxtaposition(node, rhs)
                node = ("*", node, rhs)
            else:
                return node

    def unary(self):
        if self.peek() in ("-", "+"):
            sign = self.take()
            inner = self.unary()
            return ("neg", inner) if sign == "-" else inner
        return self.power()

    def power(self):
        base = self.primary()
        if self.peek() == "^":
            self.take()
            tok = self.peek()
            if tok == "{":
                self.take()
                exponent = self.expr()
                self.take("}")
            elif tok is not None and tok.isdigit():
                self.take()
                exponent = ("n", float(tok[0]))
                if len(tok) > 1:  # x^23 is x^2 * 3 in LaTeX
                    self.toks.insert(self.i, tok[1:])
            elif tok is not None and tok.isalpha() and len(tok) == 1:
                exponent = ("v", self.take())
            else:
                raise Unsupported("exponent")
            if self.peek() == "^":
                raise Unsupported("double exponent")
            return ("^", base, exponent)
        return base

    def group(self):
        if self.peek() == "{":
            self.take()
            node = self.expr()
            self.take("}")
            return node
        tok = self.take()
        if tok[0].isdigit():  # \frac12: one digit per argument
            if len(tok) > 1:
                self.toks.insert(self.i, tok[1:])
            return ("n", float(tok[0]))
        if tok.isalpha() and len(tok) == 1 and tok not in _BANNED_LETTERS:
            return ("v", tok)
        raise Unsupported(f"group {tok!r}")

    def primary(self):
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return ("n", float(tok))
        if tok.isalpha() and len(tok) == 1:
            if tok in _BANNED_LETTERS:
                raise Unsupported(tok)
            return ("v", tok)
        if "_" in tok:  # a subscripted symbol, N_{1}: one variable, as sympy reads it
            return ("v", tok.replace("{", "").replace("}", ""))
        if tok in ("(", "{"):
            node = self.expr()
            self.take(")" if tok == "(" else "}")
            return node
        if tok in _FRAC:
            return ("/", self.group(), self.group())
        if tok == "\\sqrt":
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
                return ("root", self.group(), index)
            return ("root", self.group(), ("n", 2.0))
        if tok == "\\pi":
            return ("n", math.pi)
        if tok in _FUNCS:
            if self.peek() in ("(", "{"):
                arg = self.primary()
            else:
                arg = self.primary()
                if self.starts_primary(self.peek()) or self.peek() == "^":
                    raise Unsupported(f"{tok} argument is ambiguous")
            return ("f", tok, arg)
        raise Unsupported(tok)


def _refuse_constant_juxtaposition(left, right) -> None:
    """`1\\frac12` is a mixed number (3/2) to math-verify and `(2)(3)` a list of statement numbers in GAOKAO
    golds, not products; with a variable on either side (`3(x+1)`, `2\\frac{x}{3}`) it is a product."""
    if not variables(left) and not variables(right):
        raise Unsupported("constant next to a fraction or bracket: mixed number or statement list")


def parse(text: str):
    """AST, or None when the text is outside the subset."""
    if len(text) > MAX_LEN or any(c in text for c in "=<>,;|!"):
        return None
    try:
        return _Parser(tokenize(text)).parse()
    except (Unsupported, IndexError, ValueError, RecursionError):
        return None


def variables(node) -> frozenset:
    if node[0] == "v":
        return frozenset([node[1]])
    if node[0] == "n":
        return frozenset()
    kids = node[2:] if node[0] == "f" else node[1:]
    out = frozenset()
    for k in kids:
        out |= variables(k)
    return out


def has_float(text: str) -> bool:
    return re.search(r"\d\.\d|(?<!\d)\.\d", text) is not None


def evaluate(node, env: dict) -> float:
    kind = node[0]
    if kind == "n":
        return node[1]
    if kind == "v":
        return env[node[1]]
    if kind == "neg":
        return -evaluate(node[1], env)
    if kind == "f":
        return _FUNCS[node[1]](evaluate(node[2], env))
    if kind == "root":
        x, k = evaluate(node[1], env), evaluate(node[2], env)
        if x < 0 or k <= 0:
            raise ValueError("root domain")
        return x ** (1.0 / k)
    a, b = evaluate(node[1], env), evaluate(node[2], env)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        return a / b
    if kind == "^":
        if abs(b) > MAX_EXPONENT or (a < 0 and b != int(b)):
            raise ValueError("power out of range")
        return a**b
    raise ValueError(kind)


def _points(names: frozenset) -> list[dict]:
    ordered = sorted(names)
    return [{v: 0.37 + ((13 * j + 7 * i) % 29) / 17 for i, v in enumerate(ordered)} for j in range(3)]


TINY = 1e-6  # below this, float agreement says nothing: 0 and 6.63e-34 differ by less than any tolerance
HUGE = 1e6  # above this, a small added term (10^{12} + 1) vanishes in float rounding
MAX_EXACT_BITS = 4096


class _Tracked:
    """Smallest nonzero and largest magnitude of every value met while evaluating: the range that decides
    whether float agreement can be trusted."""

    def __init__(self):
        self.low, self.high = math.inf, 0.0

    def see(self, x: float) -> float:
        mag = abs(x)
        if mag:
            self.low, self.high = min(self.low, mag), max(self.high, mag)
        return x

    def trustworthy(self) -> bool:
        return self.low >= TINY and self.high <= HUGE


def _evaluate_tracked(node, env: dict, seen: _Tracked) -> float:
    kind = node[0]
    if kind in ("n", "v"):
        return seen.see(evaluate(node, env))
    if kind == "neg":
        return -_evaluate_tracked(node[1], env, seen)
    if kind == "f":
        return seen.see(_FUNCS[node[1]](_evaluate_tracked(node[2], env, seen)))
    if kind == "root":
        x, k = _evaluate_tracked(node[1], env, seen), _evaluate_tracked(node[2], env, seen)
        return seen.see(evaluate(("root", ("n", x), ("n", k)), {}))
    a, b = _evaluate_tracked(node[1], env, seen), _evaluate_tracked(node[2], env, seen)
    return seen.see(evaluate((kind, ("n", a), ("n", b)), {}))


class _NotExact(Exception):
    pass


def exact_value(node) -> Fraction:
    """The exact rational value of a constant built from integers with + - * / and integer powers; raises
    _NotExact for anything else (pi, roots, functions, decimals, variables, huge numbers)."""
    kind = node[0]
    if kind == "n":
        if not (float(node[1]).is_integer() and abs(node[1]) <= 2**53):  # pi and decimals are not exact
            raise _NotExact
        return Fraction(int(node[1]))
    if kind == "neg":
        return -exact_value(node[1])
    if kind not in ("+", "-", "*", "/", "^"):
        raise _NotExact
    a, b = exact_value(node[1]), exact_value(node[2])
    if kind == "+":
        out = a + b
    elif kind == "-":
        out = a - b
    elif kind == "*":
        out = a * b
    elif kind == "/":
        if b == 0:
            raise _NotExact
        out = a / b
    else:
        if b.denominator != 1 or abs(b) > MAX_EXPONENT or (a == 0 and b < 0):
            raise _NotExact
        out = a ** int(b)
    if max(out.numerator.bit_length(), out.denominator.bit_length()) > MAX_EXACT_BITS:
        raise _NotExact
    return out


def _compare_exact(gold_ast, pred_ast) -> bool | None:
    try:
        return exact_value(gold_ast) == exact_value(pred_ast)
    except (_NotExact, RecursionError):
        return None


def _point_verdict(a: float, b: float, floats: bool, seen: _Tracked) -> str:
    """'differ', 'close' or 'unsure' for the two values at one point, with tolerances relative to their size:
    an absolute tolerance would call any two tiny numbers equal."""
    if a == b:
        return "close" if seen.trustworthy() else "unsure"  # 0 == 0 after underflow proves nothing
    diff, mag = abs(a - b), max(abs(a), abs(b))
    if mag < TINY:
        return "unsure"  # 2^{-41} against 2^{-40}: floats cannot tell a true difference from rounding
    noise = 1e-9 * seen.high  # rounding left over from cancelling intermediates as large as seen.high
    if floats:
        if diff > 1.5e-6 * max(1.0, mag) and diff > noise:  # they round to different 6th places, like math-verify
            return "differ"
        return "close" if diff <= 1e-12 * mag and seen.trustworthy() else "unsure"
    if diff > 1e-6 * mag and diff > noise:
        return "differ"
    return "close" if diff <= 1e-9 * mag and seen.trustworthy() else "unsure"


def compare(gold_ast, gold_text: str, pred_ast, pred_text: str) -> bool | None:
    """True / False when the numbers settle it, None when they do not (or cannot be computed). Rational
    constants are compared exactly; the rest with floats at fixed points, trusted only in a sane range."""
    if gold_ast is None or pred_ast is None:
        return None
    names = variables(gold_ast) | variables(pred_ast)
    floats = has_float(gold_text) or has_float(pred_text)
    if floats and names:
        return None  # sympy compares float coefficients its own way
    if not names and not floats:
        exact = _compare_exact(gold_ast, pred_ast)
        if exact is not None:
            return exact
    all_close = True
    try:
        for env in _points(names):
            seen = _Tracked()
            a, b = _evaluate_tracked(gold_ast, env, seen), _evaluate_tracked(pred_ast, env, seen)
            if not (math.isfinite(a) and math.isfinite(b)):
                return None
            verdict = _point_verdict(a, b, floats, seen)
            if verdict == "differ":
                return False
            all_close = all_close and verdict == "close"
    except (ValueError, ZeroDivisionError, OverflowError, KeyError, RecursionError):
        return _astronomical(gold_ast, pred_ast)
    return True if all_close else None


HUGE_LOG10 = 400.0


def log10_lower_bound(node) -> float | None:
    """A lower bound on log10 of a positive constant power (tower), e.g. 5^{5^{5^{5^5}}}; None if not one."""
    if node[0] == "n":
        return math.log10(node[1]) if node[1] > 0 else None
    if node[0] != "^" or variables(node):
        return None
    try:
        base = evaluate(node[1], {})
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if not base >= 1.5:
        return None
    try:
        exponent = evaluate(node[2], {})
    except (ValueError, OverflowError):
        inner = log10_lower_bound(node[2])
        if inner is None or inner < 3:
            return None
        exponent = 10 ** min(inner, 300.0)
    return exponent * math.log10(base) if exponent > 0 else None


def _astronomical(gold_ast, pred_ast) -> bool | None:
    """False when the prediction is a constant power above 10^400 and the gold a finite number: they cannot be
    equal, and sympy would spend minutes building the power (math-verify hangs on 5^{5^{5^{5^5}}})."""
    if variables(gold_ast):
        return None
    try:
        gold = evaluate(gold_ast, {})
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    bound = log10_lower_bound(pred_ast[1] if pred_ast[0] == "neg" else pred_ast)
    if bound is not None and bound > HUGE_LOG10 and math.isfinite(gold) and abs(gold) < 1e300:
        return False
    return None


def constant_equal(left: str, right: str) -> bool | None:
    """Whether two constant expressions ("6 + 4", "10", "2^{3}", "\\frac{1}{2}") have the same value: exact for
    rationals, else floats agreeing to 1e-9 relative within [1e-6, 1e6]; None when either side is outside the subset,
    has a variable, or is too large or small to tell."""
    a, b = parse(left), parse(right)
    if a is None or b is None or variables(a) or variables(b):
        return None
    try:
        return exact_value(a) == exact_value(b)
    except (_NotExact, RecursionError):
        pass
    try:
        x, y = evaluate(a, {}), evaluate(b, {})
    except (ValueError, ZeroDivisionError, OverflowError, RecursionError, KeyError):
        return None
    if not all(TINY <= abs(v) <= HUGE for v in (x, y)):
        return None
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def parse_equation(text: str):
    """'y = 2x - 2' -> the tree of (left - right); None unless it is one equation of two parsable sides."""
    if text.count("=") != 1 or any(c in text for c in "<>,;|!") or len(text) > MAX_LEN:
        return None
    left, right = text.split("=")
    a, b = parse(left), parse(right)
    if a is None or b is None:
        return None
    return ("-", a, b)


def _values(node, envs: list) -> list[float] | None:
    try:
        out = [evaluate(node, env) for env in envs]
    except (ValueError, ZeroDivisionError, OverflowError, KeyError, RecursionError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _affine(values: list[float]) -> bool:
    """Values at p0, p1, p2, mid(p0, p1), mid(p1, p2): an affine function takes the mean at a midpoint."""
    p0, p1, p2, m01, m12 = values
    scale = max(1.0, *(abs(v) for v in values))
    return abs(m01 - (p0 + p1) / 2) <= 1e-9 * scale and abs(m12 - (p1 + p2) / 2) <= 1e-9 * scale


def compare_equations(gold_diff, gold_text: str, pred_diff, pred_text: str) -> bool | None:
    """Same equation when left - right agree up to sign; different when both are linear and not proportional
    (distinct lines or planes), or when a real point of one curve is clearly off the other. Anything else
    (2y = 4x against y = 2x, curves with no real point found) is left to sympy."""
    if gold_diff is None or pred_diff is None or has_float(gold_text) or has_float(pred_text):
        return None
    names = variables(gold_diff) | variables(pred_diff)
    if not names:
        return None
    if compare(gold_diff, "", pred_diff, "") or compare(gold_diff, "", ("neg", pred_diff), ""):
        return True
    base = _points(names)
    mids = [{v: (a[v] + b[v]) / 2 for v in names} for a, b in ((base[0], base[1]), (base[1], base[2]))]
    g, p = _values(gold_diff, base + mids), _values(pred_diff, base + mids)
    if g is None or p is None:
        return None
    if not (_affine(g) and _affine(p)):
        # curves: a real point on one that is off the other means different solution sets
        return (
            False
            if zero_sets_differ(gold_diff, pred_diff, names) or zero_sets_differ(pred_diff, gold_diff, names)
            else None
        )
    if any(abs(x) < 1e-9 for x in g):
        return None
    ratios = [b / a for a, b in zip(g, p)]
    spread = max(ratios) - min(ratios)
    return False if spread > 1e-6 * max(1.0, *(abs(r) for r in ratios)) else None


def _root_on(node, env: dict, name: str) -> float | None:
    """A y with node(env, y) = 0, by a sign change on [-10, 10] and bisection; None if none is found."""

    def f(y: float) -> float:
        return evaluate(node, {**env, name: y})

    try:
        prev_y, prev = -10.0, f(-10.0)
        for k in range(1, 41):
            y = -10.0 + 0.5 * k
            cur = f(y)
            if prev == 0:
                return prev_y
            if (prev < 0) != (cur < 0):
                lo, hi, flo = prev_y, y, prev
                for _ in range(60):
                    mid = (lo + hi) / 2
                    fm = f(mid)
                    if (fm < 0) == (flo < 0):
                        lo, flo = mid, fm
                    else:
                        hi = mid
                root = (lo + hi) / 2
                return root if abs(f(root)) <= 1e-9 * max(1.0, abs(prev), abs(cur)) else None  # not a pole
            prev_y, prev = y, cur
    except (ValueError, ZeroDivisionError, OverflowError, KeyError, RecursionError):
        return None
    return None


def zero_sets_differ(a, b, names: frozenset) -> bool:
    """True if some real point on a = 0 is clearly off b = 0 (then no solving can make the equations equal)."""
    ordered = sorted(names)
    last = ordered[-1]
    for env in _points(names):
        fixed = {v: env[v] for v in ordered[:-1]}
        y = _root_on(a, fixed, last)
        if y is None:
            continue
        try:
            at = evaluate(b, {**fixed, last: y})
            near = [abs(evaluate(b, {**fixed, last: y + d})) for d in (-1.0, 1.0)]
        except (ValueError, ZeroDivisionError, OverflowError, KeyError, RecursionError):
            return False
        if abs(at) > 1e-6 * max(1.0, *near):
            return True
    return False
