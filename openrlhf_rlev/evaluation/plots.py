"""PNG plots for eval and termination: headless (Agg), one figure per file, readable without the JSON."""

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from openrlhf_rlev.evaluation.metrics import ValueBin  # noqa: E402


def _bin_labels(bins: Sequence[ValueBin]) -> list[str]:
    return [f"{i + 1}\n{b.lo:.3g}" + ("" if b.lo == b.hi else f"–{b.hi:.3g}") for i, b in enumerate(bins)]


def plot_value_bins(bins: Sequence[ValueBin], path: str, metric: str, title: str, ylabel: str) -> str:
    """A bar per value bin (lowest value left); each bar is annotated with its height and prompt count."""
    heights = [getattr(b, metric) or 0.0 for b in bins]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(bins) + 2), 4.2))
    x = range(len(bins))
    bars = ax.bar(x, heights, color="#4C72B0")
    for bar, b in zip(bars, bins):
        ax.annotate(
            f"{bar.get_height():.2f}\nn={b.n}" if metric == "acc" else f"{bar.get_height():.0f}\nn={b.n}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(list(x))
    ax.set_xticklabels(_bin_labels(bins), fontsize=7)
    ax.set_xlabel("value bin (equal-count, by prompt value v; range below the bin number)")
    ax.set_ylabel(ylabel)
    if metric == "acc":
        ax.set_ylim(0, 1.15)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_termination(curves: Sequence[tuple[str, dict]], path: str, title: str) -> str:
    """P(EOS) by response position from each group's `windows` (termination.window_bands): a line per value
    bucket (top and bottom prompts by value) with its 95% band; `curves` is [(name, curves_json)], the first
    solid, the rest dashed."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = ["-", "--", ":", "-."]
    colors = {"top": "#C44E52", "bottom": "#4C72B0"}
    window = None
    for i, (name, data) in enumerate(curves):
        for group in ("top", "bottom"):
            g = data[group]
            if not g.get("windows"):
                continue
            ws = g["windows"]
            window = window or ws[0]["end"] - ws[0]["start"]
            xs = [(w["start"] + w["end"] - 1) / 2 for w in ws]
            label = f"{name}: {group}-{len(g['prompts'])} by value (v {g['value_min']:.3g}–{g['value_max']:.3g})"
            style = styles[i % len(styles)]
            ax.plot(xs, [10 ** w["log10_mean"] for w in ws], style, marker="o", markersize=3, color=colors[group],
                    label=label, linewidth=1.8)  # fmt: skip
            ax.fill_between(xs, [10 ** w["lo"] for w in ws], [10 ** w["hi"] for w in ws], color=colors[group],
                            alpha=0.15 if i == 0 else 0.08, linewidth=0)  # fmt: skip
    ax.set_yscale("log")
    ax.text(
        0.99,
        0.01,
        f"each point: the responses still running, each averaged over a {window}-token window (geometric mean);"
        " band: 95% CI across responses",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="gray",
    )
    ax.set_xlabel("response position (tokens)")
    ax.set_ylabel("P(EOS)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:  # fewer than 2 prompts with a value: nothing to label
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
