"""RLEV's evaluation metrics, as pure functions of scored responses.

The paper judges a policy by value-weighted accuracy: H-Acc = sum(v * correct) / sum(v) over prompts, next to
plain accuracy, mean response length and value density = H-Acc (%) / mean length, plus accuracy on the top and
bottom 20% of prompts by value. With several samples per prompt every metric first averages each prompt's
samples, so a prompt counts once whatever its sample count.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

TOP_BOTTOM_FRACTION = 0.2
N_BINS = 10


@dataclass(frozen=True)
class Scored:
    """One response: `credit` is 1/0 correctness, or a fraction under partial credit."""

    key: str  # groups the samples of one prompt
    value: float
    credit: float
    length: float
    datasource: str = "unknown"


@dataclass(frozen=True)
class PromptResult:
    key: str
    value: float
    acc: float  # mean credit over the prompt's samples
    length: float  # mean length over the prompt's samples
    n_samples: int
    datasource: str = "unknown"


@dataclass(frozen=True)
class ValueBin:
    lo: float  # smallest value in the bin
    hi: float  # largest value in the bin
    n: int
    acc: float
    mean_length: float


def per_prompt(rows: Iterable[Scored]) -> list[PromptResult]:
    """Average each prompt's samples; the first sample's value and datasource stand for the prompt."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in rows:
        groups[row.key].append(row)
    return [
        PromptResult(
            key=key,
            value=group[0].value,
            acc=sum(r.credit for r in group) / len(group),
            length=sum(r.length for r in group) / len(group),
            n_samples=len(group),
            datasource=group[0].datasource,
        )
        for key, group in groups.items()
    ]


def accuracy(results: Sequence[PromptResult]) -> float | None:
    return sum(r.acc for r in results) / len(results) if results else None


def h_accuracy(results: Sequence[PromptResult]) -> float | None:
    """sum(v * acc) / sum(v); None when no prompt has a positive value (nothing to weight by)."""
    total = sum(r.value for r in results)
    return sum(r.value * r.acc for r in results) / total if total > 0 else None


def mean_length(results: Sequence[PromptResult]) -> float | None:
    return sum(r.length for r in results) / len(results) if results else None


def value_density(h_acc: float | None, mean_len: float | None) -> float | None:
    """H-Acc in percent per unit of length: value delivered per token spent."""
    if h_acc is None or not mean_len:
        return None
    return 100.0 * h_acc / mean_len


def by_value(results: Sequence[PromptResult]) -> list[PromptResult]:
    """Ascending by value; ties broken by key so that top/bottom splits are deterministic."""
    return sorted(results, key=lambda r: (r.value, r.key))


def top_bottom(results: Sequence[PromptResult], fraction: float = TOP_BOTTOM_FRACTION, k: int | None = None):
    """(top, bottom): the k highest- and lowest-valued prompts, k = round(fraction * n) (at least 1), never
    overlapping (k is capped at n // 2, so a single prompt gives two empty groups)."""
    ranked = by_value(results)
    n = len(ranked)
    if k is None:
        k = max(1, round(fraction * n))
    k = min(k, n // 2)
    if k <= 0:
        return [], []
    return ranked[-k:][::-1], ranked[:k]


def value_bins(results: Sequence[PromptResult], n_bins: int = N_BINS) -> list[ValueBin]:
    """Equal-count bins by value rank (deciles by default; fewer bins when there are fewer prompts)."""
    ranked = by_value(results)
    n_bins = min(n_bins, len(ranked))
    bins = []
    for b in range(n_bins):
        chunk = ranked[b * len(ranked) // n_bins : (b + 1) * len(ranked) // n_bins]
        bins.append(ValueBin(chunk[0].value, chunk[-1].value, len(chunk), accuracy(chunk), mean_length(chunk)))
    return bins


def summarize(results: Sequence[PromptResult]) -> dict:
    """The headline numbers for one set of prompts."""
    h_acc = h_accuracy(results)
    mean_len = mean_length(results)
    top, bottom = top_bottom(results)
    return {
        "n": len(results),
        "n_responses": sum(r.n_samples for r in results),
        "acc": accuracy(results),
        "h_acc": h_acc,
        "mean_length": mean_len,
        "value_density": value_density(h_acc, mean_len),
        "acc_top20": accuracy(top),
        "acc_bottom20": accuracy(bottom),
        "n_top20": len(top),
        "n_bottom20": len(bottom),
        "mean_length_top20": mean_length(top),
        "mean_length_bottom20": mean_length(bottom),
    }


def summarize_by_datasource(results: Sequence[PromptResult]) -> dict[str, dict]:
    groups: dict[str, list[PromptResult]] = defaultdict(list)
    for r in results:
        groups[r.datasource].append(r)
    return {name: summarize(group) for name, group in sorted(groups.items())}
