"""RLEV settings, carried by environment variables.

Environment variables are the one channel that reaches every Ray worker on every node (through
`runtime_env`), so the launcher, the reward file, the server and the GRPO patch all read them here.
Per-label fields (`scale`, `value`, `verifier`) take precedence over these.
"""

import dataclasses
import os
from dataclasses import dataclass
from typing import Callable, Mapping

from openrlhf_rlev.reward.labels import ANSWER_FORMATS
from openrlhf_rlev.reward.scaling import DEFAULT_ALPHA, SCALINGS, check_alpha
from openrlhf_rlev.verifiers.pool import QUEUE_TIMEOUT
from openrlhf_rlev.verifiers.registry import choices as verifier_choices

GRPO_MODES = ("value", "stock")
# Upper bounds of the verification limits (docs/limits.md). A verifier call of minutes is a hang, not a slow answer;
# a worker is a ~150 MB process, and more of them per engine process than cores on a node only adds memory.
MAX_TIMEOUT = 600.0
MAX_SAMPLE_TIMEOUT = 3600.0
MAX_QUEUE_TIMEOUT = 3600.0
MAX_VERIFY_WORKERS = 64
# lenient: any stated answer, a guess from the last line included; strict: only a marked or a bare answer.
ENV_PREFIX = "RLEV_"


def _positive_float(text: str) -> float:
    x = float(text)
    if not x > 0 or x == float("inf"):
        raise ValueError(f"must be a finite number > 0, got {text!r}")
    return x


def _seconds(upper: float) -> Callable[[str], float]:
    """A duration in (0, upper] s: a bigger one is a typo or a hang by another name (RLEV_TIMEOUT=1e10 once leaked a
    verifier worker per call), so it stops the launch instead."""

    def parse(text: str) -> float:
        x = _positive_float(text)
        if x > upper:
            raise ValueError(f"must be at most {upper:g} seconds, got {text!r} (see docs/limits.md)")
        return x

    return parse


def _optional_seconds(upper: float) -> Callable[[str], float | None]:
    parse = _seconds(upper)
    return lambda text: parse(text) if text else None


def _int_in(lower: int, upper: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        x = int(text)
        if not lower <= x <= upper:
            raise ValueError(f"must be an integer from {lower} to {upper}, got {text!r} (see docs/limits.md)")
        return x

    return parse


def _positive_int(text: str) -> int:
    x = int(text)
    if x < 1:
        raise ValueError(f"must be an integer >= 1, got {text!r}")
    return x


def _choice(options) -> Callable[[str], str]:
    """`options`: a tuple, or a function returning one (read when parsing: verifiers can be registered later)."""

    def parse(text: str) -> str:
        known = options() if callable(options) else options
        if text not in known:
            raise ValueError(f"must be one of {', '.join(known)}, got {text!r}")
        return text

    return parse


def _optional_str(text: str) -> str | None:
    return text or None


def _optional_scale(text: str) -> float | None:
    return _positive_float(text) if text else None


def _non_negative_int(text: str) -> int:
    x = int(text)
    if x < 0:
        raise ValueError(f"must be an integer >= 0, got {text!r}")
    return x


def _optional_positive_int(text: str) -> int | None:
    return _positive_int(text) if text else None


def _optional_rate(text: str) -> float | None:
    if not text:
        return None
    x = float(text)
    if not 0 < x <= 1:
        raise ValueError(f"must be a fraction in (0, 1], got {text!r}")
    return x


def _env_var_name(text: str) -> str | None:
    if text and not text.replace("_", "a").isalnum():
        raise ValueError(f"must be the name of an environment variable, got {text!r}")
    return text or None


def _judge_template_file(text: str) -> str | None:
    """Checked when the setting is read, so that a bad template stops a launch instead of zeroing every reward."""
    if not text:
        return None
    from openrlhf_rlev.verifiers.judge_template import load_template

    load_template(text)  # raises ValueError naming the file and the problem
    return text


@dataclass(frozen=True)
class Settings:
    alpha: float = DEFAULT_ALPHA
    scaling: str = "rlev"
    uniform_scale: float | None = None
    verifier: str = "auto"
    # Limits on one sample's verification (docs/limits.md): one worker call, the whole sample (None: 2 x timeout),
    # and how long a wait for a verifier worker may see no progress in the pool before it gives up.
    timeout: float = 5.0
    sample_timeout: float | None = None
    queue_timeout: float = QUEUE_TIMEOUT
    grpo: str = "value"
    verify_workers: int = max(1, min(4, os.cpu_count() or 1))
    judge_url: str | None = None
    judge_model: str | None = None
    # LLM judge (verifiers/judge.py). One check never takes longer than judge_deadline seconds, retries included.
    judge_template_file: str | None = None
    judge_timeout: float = 30.0
    judge_deadline: float = 60.0
    judge_retries: int = 2
    judge_backoff: float = 0.5
    judge_concurrency: int = 16
    judge_breaker_failures: int = 5
    judge_breaker_cooldown: float = 30.0
    judge_max_tokens: int = 16
    # Run-wide cap on judge requests in flight, across every engine process of the Ray job (docs/judge.md).
    judge_run_concurrency: int | None = None
    # Stop the run when more than this fraction of the last judge_failure_window judge calls failed.
    judge_max_failure_rate: float | None = None
    judge_failure_window: int = 100
    # Where the nodes hold the API key, so the key itself never rides in the job's runtime env.
    judge_api_key_file: str | None = None
    judge_api_key_env: str | None = None
    answer_format: str = "lenient"  # a label's own answer_format wins (prepare writes "strict" into its labels)

    def __post_init__(self):
        _check_ranges(self)
        if self.scaling == "uniform" and self.uniform_scale is None:
            raise ValueError("scaling 'uniform' needs uniform_scale (RLEV_UNIFORM_SCALE / --rlev.uniform_scale)")
        if self.verifier == "judge" and not self.judge_url:
            raise ValueError("verifier 'judge' needs judge_url (RLEV_JUDGE_URL / --rlev.judge_url)")

    @classmethod
    def from_strings(cls, values: Mapping[str, str], source: str = "settings") -> "Settings":
        """Build from `{field: text}`; errors name the field and the source (env var or flag)."""
        kwargs = {}
        for name, text in values.items():
            if name not in PARSERS:
                raise ValueError(f"{source}: unknown RLEV setting {name!r}; known: {', '.join(PARSERS)}")
            try:
                kwargs[name] = PARSERS[name](text)
            except ValueError as e:
                raise ValueError(f"{source}: invalid {name} {text!r}: {e}") from None
        return cls(**kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        found = {name: environ[env_name(name)] for name in PARSERS if env_name(name) in environ}
        return _cached_from_env(tuple(sorted(found.items())))

    def to_env(self) -> dict[str, str]:
        """Only the fields that differ from the defaults, so that a worker's own env can still fill the rest."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default and value is not None:
                out[env_name(field.name)] = str(value)
        return out


PARSERS: dict[str, Callable[[str], object]] = {
    "alpha": lambda t: check_alpha(float(t)),
    "scaling": _choice(SCALINGS),
    "uniform_scale": _optional_scale,
    "verifier": _choice(verifier_choices),
    "timeout": _seconds(MAX_TIMEOUT),
    "sample_timeout": _optional_seconds(MAX_SAMPLE_TIMEOUT),
    "queue_timeout": _seconds(MAX_QUEUE_TIMEOUT),
    "grpo": _choice(GRPO_MODES),
    "verify_workers": _int_in(1, MAX_VERIFY_WORKERS),
    "judge_url": _optional_str,
    "judge_model": _optional_str,
    "judge_template_file": _judge_template_file,
    "judge_timeout": _positive_float,
    "judge_deadline": _positive_float,
    "judge_retries": _non_negative_int,
    "judge_backoff": _positive_float,
    "judge_concurrency": _positive_int,
    "judge_breaker_failures": _positive_int,
    "judge_breaker_cooldown": _positive_float,
    "judge_max_tokens": _positive_int,
    "judge_run_concurrency": _optional_positive_int,
    "judge_max_failure_rate": _optional_rate,
    "judge_failure_window": _positive_int,
    "judge_api_key_file": _optional_str,
    "judge_api_key_env": _env_var_name,
    "answer_format": _choice(ANSWER_FORMATS),
}


def _check_ranges(s: "Settings") -> None:
    """The same ranges for settings built in code (TRL, verl, tests) as for RLEV_* / --rlev.* text."""
    for name in ("timeout", "sample_timeout", "queue_timeout", "verify_workers"):
        value = getattr(s, name)
        if value is not None:
            try:
                PARSERS[name](str(value))
            except ValueError as e:
                raise ValueError(f"invalid {name} {value!r}: {e}") from None
    if s.queue_timeout < s.timeout:
        raise ValueError(
            f"queue_timeout {s.queue_timeout:g} s is below timeout {s.timeout:g} s: a healthy pool whose workers all run "
            "tasks to their timeout would look stalled (RLEV_QUEUE_TIMEOUT / --rlev.queue_timeout, see docs/limits.md)"
        )
    if s.sample_timeout is not None and s.sample_timeout < s.timeout:
        raise ValueError(
            f"sample_timeout {s.sample_timeout:g} s is below timeout {s.timeout:g} s: one verifier call could never "
            "use its whole timeout (RLEV_SAMPLE_TIMEOUT / --rlev.sample_timeout, see docs/limits.md)"
        )


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def resolve(
    flags: Mapping[str, str], environ: Mapping[str, str], flag_prefix: str = "--rlev."
) -> tuple[Settings, set[str]]:
    """Flags over RLEV_* env vars over defaults, for the launcher and the server. Returns the settings and the
    fields given explicitly; a ValueError names the flag or env var that was wrong."""
    texts = {
        name: (environ[env_name(name)], f"environment variable {env_name(name)}")
        for name in PARSERS
        if env_name(name) in environ
    }
    texts.update({name: (text, flag_prefix + name) for name, text in flags.items()})
    for name, (text, source) in texts.items():
        if name not in PARSERS:
            raise ValueError(f"{source}: unknown RLEV setting {name!r}; known: {', '.join(PARSERS)}")
        try:
            PARSERS[name](text)
        except ValueError as e:
            raise ValueError(f"{source}: invalid {name} {text!r}: {e}") from None
    return Settings.from_strings({n: t for n, (t, _) in texts.items()}, source="RLEV settings"), set(texts)


_cache: dict = {}


def _cached_from_env(items: tuple) -> Settings:
    # The reward path calls from_env once per sample; parsing is cheap but not free.
    hit = _cache.get(items)
    if hit is None:
        hit = Settings.from_strings(dict(items), source="environment (RLEV_*)")
        if len(_cache) > 64:
            _cache.clear()
        _cache[items] = hit
    return hit
