"""PNG plots for eval and termination: headless (Agg), one figure per file, readable without the JSON."""

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from openrlhf_rlev.metrics import ValueBin  # noqa: E402

EOS_FLOOR = 1e-12  # log-scale plots cannot show 0


def _bin_labels(bins: Sequence[ValueBin]) -> list[str]:
    return [f"{i + 1}\n{b.lo:.3g}–{b.hi:.3g}" for i, b in enumerate(bins)]


def plot_value_bins(bins: Sequence[ValueBin], path: str, metric: str, title: str, ylabel: str) -> str:
    """A bar per value bin (lowest value left); each bar is annotated with its prompt count."""
    heights = [getattr(b, metric) or 0.0 for b in bins]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(bins) + 2), 4.2))
    x = range(len(bins))
    bars = ax.bar(x, heights, color="#4C72B0")
    for bar, b in zip(bars, bins):
        ax.annotate(
            f"n={b.n}",
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
        ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_termination(curves: Sequence[tuple[str, dict]], path: str, title: str) -> str:
    """P(EOS) by response position; `curves` is [(name, curves_json)], the first solid, the rest dashed."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = ["-", "--", ":", "-."]
    colors = {"top": "#C44E52", "bottom": "#4C72B0"}
    for i, (name, data) in enumerate(curves):
        for group in ("top", "bottom"):
            g = data[group]
            if not g["p_eos"]:
                continue
            ys = [max(p, EOS_FLOOR) for p in g["p_eos"]]
            label = f"{name}: {group}-{len(g['prompts'])} by value (v {g['value_min']:.3g}–{g['value_max']:.3g})"
            ax.plot(range(len(ys)), ys, styles[i % len(styles)], color=colors[group], label=label, linewidth=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("response position (tokens)")
    ax.set_ylabel("P(EOS), mean over responses still running")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
