"""Properties of s(x) and of the label parser: the two places a silent mistake changes what RL optimises."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.labels import Label, LabelError, parse_label
from openrlhf_rlev.reward.scaling import scale
from openrlhf_rlev.reward.settings import Settings

values = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
alphas = st.floats(min_value=0.0, max_value=1e3, allow_nan=False)


@given(values, alphas)
def test_rlev_scale_is_clipped_to_one_to_two(v, alpha):
    s = scale(v, "rlev", alpha)
    assert 1.0 <= s <= 2.0
    assert s == pytest.approx(1.0 + alpha * v if alpha * v <= 1 else 2.0)


@given(values, values, alphas)
def test_rlev_scale_is_monotone_in_value(v1, v2, alpha):
    lo, hi = sorted((v1, v2))
    assert scale(lo, "rlev", alpha) <= scale(hi, "rlev", alpha)


@given(values, alphas)
def test_ablation_scalings(v, alpha):
    assert scale(v, "multiplicative", alpha) == pytest.approx(1.0 + alpha * v)
    assert scale(v, "none", alpha) == 1.0
    assert scale(v, "uniform", alpha, uniform=1.37) == 1.37


def test_paper_defaults():
    assert scale(0.05) == 1.5 and scale(0.1) == 2.0 and scale(0.0) == 1.0 and scale(0.8) == 2.0
    with pytest.raises(ValueError, match="uniform"):
        scale(0.1, "uniform")
    with pytest.raises(ValueError, match="unknown scaling"):
        scale(0.1, "cubic")


answers = st.one_of(
    st.text(min_size=1, max_size=20).filter(lambda t: t.strip() and not t.strip().startswith("{")),
    st.lists(st.text(min_size=1, max_size=5).filter(str.strip), min_size=1, max_size=5),
)


@given(answers, st.one_of(st.none(), values), st.sampled_from([None, "math", "choice", "exact"]))
def test_dict_and_json_string_labels_parse_the_same(answer, value, verifier):
    d = {"answer": answer, "value": value, "verifier": verifier}
    parsed = parse_label(d)
    assert parsed == parse_label(json.dumps(d))
    expected = tuple(a.strip() for a in (answer if isinstance(answer, list) else [answer]))
    assert parsed == Label(answers=expected, value=value, scale=None, verifier=verifier)


@given(st.text(max_size=30))
def test_plain_strings_are_answers_without_value(text):
    try:
        parsed = parse_label(text)
    except LabelError as e:
        assert e.reason in reasons.FAILURES
        return
    assert parsed.value is None and parsed.scale is None
    if not text.strip().startswith("{"):
        assert parsed.answers == (text.strip(),)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(min_value=-(10**400), max_value=10**400)  # beyond float range too
    | st.text(max_size=10)
    | st.sampled_from(['{"answer": "2", "value": ', "{1, 2}", "{}", "\ud800"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@given(st.one_of(json_values, st.dictionaries(st.sampled_from(["answer", "value", "scale", "verifier"]), json_values)))
def test_any_input_parses_or_fails_with_a_known_reason(raw):
    try:
        parsed = parse_label(raw)
    except LabelError as e:
        assert e.reason in (reasons.LABEL_MALFORMED, reasons.LABEL_MISSING_ANSWER, reasons.LABEL_BAD_VALUE)
        return
    assert parsed.answers and all(isinstance(a, str) and a for a in parsed.answers)
    assert parsed.value is None or 0.0 <= parsed.value <= 1.0
    assert parsed.scale is None or (math.isfinite(parsed.scale) and parsed.scale >= 0)


@given(st.one_of(json_values, st.text(max_size=50)), st.one_of(json_values, st.text(max_size=50)))
def test_score_never_raises_and_reward_is_scale_times_correct(response, label):
    v = score(response, label, Settings(timeout=2))
    assert v.reward == (v.scale if v.correct else 0.0)
    assert v.reason is None or v.reason in reasons.FAILURES
    assert not (v.correct and v.reason)


def test_settings_errors_name_the_field_and_source():
    with pytest.raises(ValueError, match=r"environment \(RLEV_\*\): invalid alpha 'x'"):
        Settings.from_env({"RLEV_ALPHA": "x"})
    with pytest.raises(ValueError, match="scaling.*must be one of"):
        Settings.from_env({"RLEV_SCALING": "cubic"})
    with pytest.raises(ValueError, match="uniform_scale"):
        Settings.from_env({"RLEV_SCALING": "uniform"})
    s = Settings.from_env({"RLEV_SCALING": "uniform", "RLEV_UNIFORM_SCALE": "1.5", "RLEV_ALPHA": "5"})
    assert Settings.from_env(s.to_env()) == s


def test_resolve_puts_flags_over_env_and_names_the_source():
    from openrlhf_rlev.reward.settings import resolve

    s, explicit = resolve({"alpha": "4"}, {"RLEV_ALPHA": "7", "RLEV_TIMEOUT": "2"})
    assert (s.alpha, s.timeout, explicit) == (4.0, 2.0, {"alpha", "timeout"})
    with pytest.raises(ValueError, match=r"environment variable RLEV_TIMEOUT: invalid timeout '0'"):
        resolve({}, {"RLEV_TIMEOUT": "0"})
    with pytest.raises(ValueError, match=r"--rlev\.scaling: invalid scaling 'cubic'"):
        resolve({"scaling": "cubic"}, {})


def test_the_parsed_label_is_cached_per_gold_and_bounded():
    """OpenRLHF scores each label n_samples_per_prompt times: the second parse is a cache hit, for a dict and for its
    JSON string alike; the cache is bounded by answer characters, and a label too big for it is parsed every time."""
    from openrlhf_rlev.reward import labels

    cached = labels._parse_cached
    cached.cache_clear()
    for _ in range(2):
        assert parse_label({"answer": ["42"], "value": 0.5, "id": 7}) == Label(("42",), 0.5)
        assert parse_label('{"answer": "42", "value": 0.5}') == Label(("42",), 0.5)
    info = cached.cache_info()
    assert (info.hits, info.misses) == (2, 2)
    assert (info.maxsize, info.max_chars) == (labels.LABEL_CACHE_SIZE, labels.LABEL_CACHE_CHARS)
    assert info.chars == 2 + len('{"answer": "42", "value": 0.5}')
    big = {"answer": ["9" * (labels.LABEL_CACHE_CHARS // 10 + 1)]}
    with pytest.raises(LabelError):  # above MAX_LABEL_CHARS: still refused, never cached
        parse_label(big)
    assert cached.cache_info().entries == 2


@pytest.mark.parametrize(
    "first, second",
    [
        ({"answer": "1", "value": 1}, {"answer": "1", "value": True}),  # 1 == True: the key keeps the types apart
        ({"answer": "1", "value": 0.5}, {"answer": "1", "value": 2}),
        ({"answer": "1", "verifier": "math"}, {"answer": "1", "verifier": "nope"}),
        ({"answer": "1", "answer_format": "strict"}, {"answer": "1", "answer_format": "loose"}),
    ],
)
def test_a_cached_label_never_lets_an_invalid_one_through(first, second):
    parse_label(first)
    with pytest.raises(LabelError):
        parse_label(second)
    assert score("1", second, Settings()).reason in (reasons.LABEL_BAD_VALUE, reasons.LABEL_MALFORMED)
