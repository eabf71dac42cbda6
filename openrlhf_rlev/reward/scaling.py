"""Reward scale s(x) from a prompt's human value v(x): the one formula RLEV changes."""

import math

SCALINGS = ("rlev", "multiplicative", "uniform", "none")
DEFAULT_ALPHA = 10.0


def scale(value: float, mode: str = "rlev", alpha: float = DEFAULT_ALPHA, uniform: float | None = None) -> float:
    """s = 1 + min(alpha*v, 1) for `rlev` (the paper's); the others are its ablations.

    `multiplicative` is 1 + alpha*v unclipped, `uniform` a constant s-bar for every prompt (same mean
    scale, no value signal), `none` the accuracy-only baseline.
    """
    if mode == "rlev":
        return 1.0 + min(alpha * value, 1.0)
    if mode == "multiplicative":
        return 1.0 + alpha * value
    if mode == "uniform":
        if uniform is None:
            raise ValueError("scaling 'uniform' needs a constant scale (RLEV_UNIFORM_SCALE / --rlev.uniform_scale)")
        return float(uniform)
    if mode == "none":
        return 1.0
    raise ValueError(f"unknown scaling {mode!r}; known: {', '.join(SCALINGS)}")


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return float(alpha)
