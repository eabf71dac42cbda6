"""From raw points to v(x) in [0, 1]: number checks, totals and group sums, the difficulty map, the shuffle ablation."""

import json
import math
import random
import re
from collections import defaultdict

from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare.records import Item, PrepareError, Reject

# The paper's weak-label map (difficulty tier -> points), divided by 100 to be a value in [0, 1].
DEFAULT_DIFFICULTY_POINTS = {"PRIMARY": 1, "JUNIOR HIGH": 2, "SENIOR HIGH": 4, "UNIVERSITY": 6, "PHD": 8}
DIFFICULTY_DIVISOR = 100.0
_TOLERANCE = 1e-9  # float sums of exact points must not reject a question worth its whole paper


class NumberError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_number(raw, what: str, missing: str, bad: str) -> float:
    """A finite float from a number or a numeric string (CSV); NumberError(reason) otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise NumberError(missing, f"no {what}")
    if isinstance(raw, bool):
        raise NumberError(bad, f"{what} must be a number, got {raw!r}")
    try:
        x = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float range
        raise NumberError(bad, f"{what} must be a finite number, got {_short(raw)}") from None
    if not math.isfinite(x):
        raise NumberError(bad, f"{what} must be finite, got {_short(raw)}")
    return x


def _short(raw) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def parse_points(raw, what: str = "value") -> float:
    x = parse_number(raw, what, R.MISSING_VALUE, R.BAD_VALUE)
    if x < 0:
        raise NumberError(R.NEGATIVE_VALUE, f"{what} is negative: {raw!r}")
    return x


def parse_total(raw, what: str = "total") -> float:
    x = parse_number(raw, what, R.MISSING_TOTAL, R.BAD_TOTAL)
    if x < 0:
        raise NumberError(R.BAD_TOTAL, f"{what} is negative: {raw!r}")
    if x == 0:
        raise NumberError(R.ZERO_TOTAL, f"{what} is 0")
    return x


def difficulty_key(name) -> str:
    """'junior_high', 'Junior-High' and 'JUNIOR HIGH' are one tier."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().upper()


def load_difficulty_map(spec: str | None) -> dict[str, float]:
    """Tier -> value. `spec` is a JSON object of tier -> points (divided by 100, like the paper's), inline or a file."""
    if spec is None:
        points = DEFAULT_DIFFICULTY_POINTS
    else:
        text = spec
        if not spec.lstrip().startswith("{"):
            try:
                with open(spec, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise PrepareError(
                    f"--difficulty-map: not a JSON object and not a readable file: {spec!r} ({e})"
                ) from None
        try:
            points = json.loads(text)
        except ValueError as e:
            raise PrepareError(f"--difficulty-map: invalid JSON ({e}): {text[:200]!r}") from None
        if not isinstance(points, dict) or not points:
            raise PrepareError(
                f"--difficulty-map must be a non-empty JSON object of tier -> points, got {text[:200]!r}"
            )
    out = {}
    for name, raw in points.items():
        try:
            x = parse_points(raw, f"points of difficulty {name!r}")
        except NumberError as e:
            raise PrepareError(f"--difficulty-map: {e}") from None
        if x > DIFFICULTY_DIVISOR:
            raise PrepareError(f"--difficulty-map: points of {name!r} must be <= {DIFFICULTY_DIVISOR:g}, got {raw!r}")
        out[difficulty_key(name)] = x / DIFFICULTY_DIVISOR
    return out


class GroupSums:
    """Each group's total: the points of every valid item of the group, including GAOKAO open-ended questions
    that are later skipped (they are on the exam paper), and the points of rejected rows of the group where those
    are known. Fed one item or reject at a time, so a streaming pass holds only one number per group."""

    def __init__(self):
        self.sums: dict[tuple, float] = defaultdict(float)
        self._lost: dict[tuple, list[int]] = {}
        self._lost_points: dict[tuple, float] = defaultdict(float)

    def add(self, out: Item | Reject) -> None:
        if isinstance(out, Reject):
            if out.group is not None:
                known = self._lost.setdefault(out.group, [0, 0])
                known[out.points is None] += 1
                if out.points is not None:
                    self._lost_points[out.group] += out.points
        elif out.value is None and out.difficulty is None and out.total is None and out.group is not None:
            self.sums[out.group] += out.points

    def close(self) -> None:
        """Add the rejected rows' known points to the groups that have valid items (call once, after the pass)."""
        for g, points in self._lost_points.items():
            if g in self.sums:
                self.sums[g] += points
        self._lost_points.clear()

    def warnings(self) -> list[dict]:
        """One per group that lost rows to rejects: {"group", "rejected", "points_known", "points_unknown"}."""
        return [
            {"group": _show(g), "rejected": k + u, "points_known": k, "points_unknown": u}
            for g, (k, u) in sorted(self._lost.items(), key=lambda kv: _show(kv[0]))
            if g in self.sums
        ]


def normalise(
    items: list[Item], difficulty_map: dict[str, float] | None = None, rejected: list[Reject] = ()
) -> tuple[list[Item], list[Reject], list[dict]]:
    """Set each item's `value`; items that cannot have one become rejects (GroupSums says what a group's total
    counts). Also returns one warning per group that lost rows to rejects."""
    groups = GroupSums()
    for out in (*items, *rejected):
        groups.add(out)
    groups.close()
    kept, rejects = [], []
    for it in items:
        reject = set_value(it, groups.sums, difficulty_map)
        if reject is None:
            kept.append(it)
        else:
            rejects.append(reject)
    return kept, rejects, groups.warnings()


def set_value(it: Item, group_sums: dict, difficulty_map: dict | None) -> Reject | None:
    """Set `it.value`, or return the reject saying why it has none."""
    if it.value is not None:
        return None
    if it.difficulty is not None:
        tier = difficulty_key(it.difficulty)
        if difficulty_map is None or tier not in difficulty_map:
            known = ", ".join(sorted(difficulty_map or {}))
            return it.reject(R.UNKNOWN_DIFFICULTY, f"difficulty {it.difficulty!r} not in map ({known})")
        it.value = difficulty_map[tier]
        return None
    if it.total is not None:
        denominator, what = it.total, f"total {it.total:g}"
    elif it.group is not None:
        denominator, what = group_sums[it.group], f"group {_show(it.group)} sum {group_sums[it.group]:g}"
        if denominator <= 0:
            return it.reject(R.ZERO_GROUP_TOTAL, f"values of group {_show(it.group)} sum to 0")
        if not math.isfinite(denominator):
            return it.reject(R.BAD_TOTAL, f"values of group {_show(it.group)} sum beyond float range")
    else:
        denominator, what = 1.0, "1 (a direct value must be in [0, 1])"
    if it.points > denominator * (1 + _TOLERANCE):
        return it.reject(R.VALUE_ABOVE_TOTAL, f"value {it.points:g} is above {what}")
    it.value = min(it.points / denominator, 1.0)
    return None


def _show(group: tuple) -> str:
    return "/".join(str(g) for g in group)


def shuffle_values(items: list[Item], seed: int) -> None:
    """The random-weights ablation: the same multiset of values, assigned to questions at random."""
    values = [it.value for it in items]
    random.Random(seed).shuffle(values)
    for it, v in zip(items, values):
        it.value = v
