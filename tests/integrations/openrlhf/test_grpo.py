"""Value-preserving GRPO (openrlhf_rlev.integrations.openrlhf.grpo) against OpenRLHF's REAL compute_advantages_and_returns.

OpenRLHF's experience_maker is imported by its real name and run unmodified (the `em` fixture in
conftest.py). As in OpenRLHF's own tests
(site-packages/tests/test_reward_shaping.py), only what needs the GPU stack is stubbed, via sys.modules:
- `deepspeed`: openrlhf/models/utils.py imports it at top level; compute_reward and masked_mean never use it.
- `openrlhf.models.utils`: the real file, loaded by path, because its package __init__ imports peft and the
  model classes (GPU stack).
- `openrlhf.trainer.ray.launcher`: imports vllm; experience_maker uses RayActorGroup only as a type hint.
`ray` and `torch` are real.

The wrapper must equal the upstream change in patches/advantage-weight (`--algo.advantage.weight_key rlev/scale`)
wherever both apply: `test_wrapper_equals_the_upstream_change` applies that patch to a copy of the installed
experience_maker.py, runs both on the same batches (length penalties, KL, clipping, dtypes) and compares bit for bit.
"""

import copy
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openrlhf")

from openrlhf_rlev.integrations.openrlhf import grpo, import_hooks  # noqa: E402

EM = grpo.TARGET_MODULE
ROOT = grpo.installed_openrlhf_root()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("RLEV_"):
            monkeypatch.delenv(name)


def make_maker(em, estimator, n, kl_coef=0.0, clip_range=(-10, 10), weight_key=None, **reward_args):
    maker = em.RemoteExperienceMaker.__new__(em.RemoteExperienceMaker)
    maker.advantage_estimator = estimator
    maker.kl_ctl = SimpleNamespace(value=kl_coef)
    advantage = SimpleNamespace(estimator=estimator, gamma=1.0, lambd=1.0, no_std_norm=False)
    if weight_key:  # only the upstream change has the flag
        advantage.weight_key = weight_key
    maker.strategy = SimpleNamespace(
        args=SimpleNamespace(
            rollout=SimpleNamespace(n_samples_per_prompt=n, max_new_tokens=6),
            data=SimpleNamespace(max_len=12),
            reward=SimpleNamespace(clip_range=clip_range, **reward_args),
            algo=SimpleNamespace(advantage=advantage),
        )
    )
    return maker


def make_batch(groups, n, per_exp=3, reward_dtype=torch.float32, score_dtype=torch.float32, kl=0.0, seed=0):
    """OpenRLHF-shaped experiences for prompt groups [(s, [c...]), ...], samples shuffled across micro-batches.

    s is one number per prompt, or a list with one per sample. Each sample carries what the RLEV reward produces:
    reward s*c, score c, extra_logs rlev/scale and rlev/correct, its label, a response length (2..6 tokens, the
    same for the same position in every group; the longest, 5, is truncated) and a (possibly nonzero) per-token KL.
    """
    from openrlhf.trainer.ppo_utils.experience import Experience

    gen = torch.Generator().manual_seed(seed)
    total, width = len(groups) * n, 6
    order = torch.randperm(total, generator=gen).tolist()
    experiences = []
    for start in range(0, total, per_exp):
        index = order[start : start + per_exp]
        s = torch.tensor([_scale(groups[i // n][0], i % n) for i in index])
        c = torch.tensor([float(groups[i // n][1][i % n]) for i in index])
        lengths = torch.tensor([2 + (i % n) % (width - 1) for i in index])  # equal across groups, by position
        mask = torch.arange(width)[None, :] < lengths[:, None]
        rewards = (s * c).to(reward_dtype)
        experiences.append(
            Experience(
                index=index,
                rewards=rewards,
                scores=c.to(score_dtype),
                action_mask=mask,
                kl=kl * torch.rand(len(index), width, generator=gen),
                values=torch.rand(len(index), width, generator=gen),
                response_length=lengths,
                truncated=lengths >= width - 1,
                labels=[json.dumps({"answer": "4", "scale": _scale(groups[i // n][0], i % n)}) for i in index],
                info={"reward": rewards.clone(), "score": c.clone(), "rlev/scale": s, "rlev/correct": c.clone()},
            )
        )
    return experiences


def _scale(s, k):
    return float(s[k] if isinstance(s, (list, tuple)) else s)


def by_sample(experiences, attr="advantages"):
    rows = {}
    for e in experiences:
        for k, i in enumerate(e.index):
            rows[i] = getattr(e, attr)[k]
    return torch.stack([rows[i] for i in sorted(rows)])


def masks(experiences):
    return by_sample(experiences, "action_mask").float()


def per_sample(experiences):
    """Each sample's advantage (its first token: with gamma 1 and no KL every response token carries the same)."""
    return by_sample(experiences)[:, 0]


def run(em, estimator, n, experiences, patched, **kw):
    maker = make_maker(em, estimator, n, **kw)
    original = em.RemoteExperienceMaker.compute_advantages_and_returns
    fn = grpo.wrap(original) if patched else original
    return fn(maker, copy.deepcopy(experiences))


def assert_bit_identical(a, b):
    """Advantages, returns, rewards and every info entry of two experience lists, bit for bit."""
    for x, y in zip(a, b, strict=True):
        for attr in ("advantages", "returns", "rewards"):
            assert torch.equal(getattr(x, attr), getattr(y, attr)), attr
        assert x.info.keys() == y.info.keys()
        for key in x.info:
            assert torch.equal(x.info[key], y.info[key]), key


def reference(groups, n):
    """s * (c - mean c) / (std c + 1e-9) per group, in prompt order (float64): group_norm(s * c) * s up to eps."""
    out = []
    for s, cs in groups:
        c = torch.tensor(cs, dtype=torch.float64)
        out.append(s * (c - c.mean()) / (c.std() + 1e-9))
    return torch.cat(out)


def sample_s(groups, n):
    return torch.tensor([_scale(s, k) for s, _ in groups for k in range(n)])


PATTERNS = {2: [1, 0], 4: [1, 0, 0, 1], 8: [1, 1, 0, 0, 0, 1, 0, 0]}


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("reward_dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_value_preserving_doubles_an_s2_group(em, n, reward_dtype):
    pattern = PATTERNS[n]
    groups = [(1.0, pattern), (2.0, pattern), (2.0, [1] * n), (1.5, [0] * n)]
    batch = make_batch(groups, n, reward_dtype=reward_dtype)
    out = run(em, "group_norm", n, batch, True)
    adv = by_sample(out)
    s1, s2, all_right, all_wrong = per_sample(out).split(n)
    assert torch.equal(s2, 2 * s1)  # exactly, bit for bit
    assert s1.abs().sum() > 0
    assert torch.equal(all_right, torch.zeros_like(all_right))
    assert torch.equal(all_wrong, torch.zeros_like(all_wrong))
    # Exactly OpenRLHF's own group_norm advantage (whatever its precision in this release), times s.
    stock = by_sample(run(em, "group_norm", n, batch, False))
    assert torch.equal(adv, stock * sample_s(groups, n)[:, None])
    tolerance = 1e-6 if reward_dtype != torch.bfloat16 else 1e-2  # before 0.11.2 group_norm runs in bf16 here
    torch.testing.assert_close(adv, reference(groups, n).float()[:, None] * masks(out), rtol=tolerance, atol=tolerance)


def test_a_users_weighted_reward_keeps_their_shaping_and_the_value(em):
    """RLEV on a user's reward (weighted_reward.py) returns s * b, b their reward with its own bonuses (not 0/1):
    value-keeping GRPO gives s * group_norm(b), so their shaping stays in the advantage and s is not divided out."""
    n = 4
    groups = [(2.0, [1.25, 0.25, 0.25, 1.25]), (1.2, [1.1, 0.1, 1.0, 0.0])]
    out = run(em, "group_norm", n, make_batch(groups, n), True)
    torch.testing.assert_close(
        by_sample(out), reference(groups, n).float()[:, None] * masks(out), rtol=1e-6, atol=1e-6
    )
    first, second = per_sample(out).split(n)
    assert first[0] > 0 > first[1] and torch.equal(first[0], first[3])  # their bonus kept: 1.25 and 0.25 differ


def test_stock_group_norm_erases_the_value_and_the_patch_restores_it(em):
    n, pattern = 4, PATTERNS[4]
    batch = make_batch([(1.0, pattern), (2.0, pattern)], n)
    stock = per_sample(run(em, "group_norm", n, batch, False)).split(n)
    value = per_sample(run(em, "group_norm", n, batch, True)).split(n)
    torch.testing.assert_close(stock[1], stock[0])  # s(x) divided out: the problem this module exists for
    assert torch.equal(value[1], 2 * value[0])
    assert torch.equal(value[0], stock[0])  # s = 1: OpenRLHF's own group_norm


def test_kl_penalty_and_returns_are_openrlhf_s(em):
    """With a KL penalty, the only difference between an s=2 and an s=1 group is the scaled group term."""
    n, pattern = 4, PATTERNS[4]
    batch = make_batch([(1.0, pattern), (2.0, pattern)], n, kl=0.05)
    # the same KL for both groups, so their difference isolates the reward term
    for e in batch:
        for k, i in enumerate(e.index):
            e.kl[k] = 0.05 * torch.linspace(0, 1, e.kl.shape[1]) * (1 + i % n)
    out = run(em, "group_norm", n, batch, True, kl_coef=0.1)
    adv, returns = by_sample(out), by_sample(out, "returns")
    g = reference([(1.0, pattern)], n).float()[:, None] * masks(out)[:n]
    torch.testing.assert_close(adv[n:] - adv[:n], g, rtol=1e-5, atol=1e-6)
    assert torch.equal(adv, returns)
    stock = by_sample(run(em, "group_norm", n, batch, False, kl_coef=0.1))
    assert torch.equal(adv[:n], stock[:n])


def test_logged_reward_stays_the_rlev_reward(em):
    n, pattern = 4, PATTERNS[4]
    batch = make_batch([(1.0, pattern), (2.0, pattern)], n)
    out = run(em, "group_norm", n, batch, True)
    stock = run(em, "group_norm", n, batch, False)
    for attr in ("rewards",):
        assert torch.equal(by_sample(out, attr), by_sample(stock, attr))
    for key in ("reward", "group_reward_std", "return"):
        got = torch.cat([e.info[key] for e in out])
        want = torch.cat([e.info[key] for e in stock])
        if key == "return":  # differs by design: the return is the value-scaled advantage
            assert not torch.equal(got, want)
        else:
            assert torch.equal(got, want), key


@pytest.mark.parametrize(
    "penalty",
    [
        {"overlong_buffer_len": 2, "overlong_penalty_factor": 1.0},
        {"stop_properly_penalty_coef": -0.5},
        {"stop_properly_penalty_coef": 0.5},
    ],
)
def test_length_penalties_apply_to_the_reward_before_the_weight(em, penalty):
    """The documented order, shared with upstream: OpenRLHF's penalties act on the RLEV reward r = s*c as returned
    (reward units), then group_norm, then * s. max_new_tokens 6: overlong buffer 2 takes min(len - 4, 2) / 2 from
    responses longer than 4 tokens; stop-properly acts on the truncated ones (length 5)."""
    n, pattern = 4, PATTERNS[4]
    groups = [(1.0, pattern), (2.0, pattern)]
    batch = make_batch(groups, n)
    out = run(em, "group_norm", n, batch, True, **penalty)
    lengths = by_sample(batch, "response_length").double()
    s = sample_s(groups, n).double()
    r = s * torch.tensor([c for _, cs in groups for c in cs], dtype=torch.float64)
    if "overlong_buffer_len" in penalty:
        r = r - (lengths - 4).clamp(0, 2) / 2
    elif penalty["stop_properly_penalty_coef"] < 0:
        r = torch.where(lengths >= 5, penalty["stop_properly_penalty_coef"], r)
    else:
        r = torch.where(lengths >= 5, r * penalty["stop_properly_penalty_coef"], r)
    u = r.reshape(-1, n)
    want = s * ((u - u.mean(-1, keepdim=True)) / (u.std(-1, keepdim=True) + 1e-9)).reshape(-1)
    torch.testing.assert_close(by_sample(out), want.float()[:, None] * masks(out), rtol=1e-5, atol=1e-6)
    stock = by_sample(run(em, "group_norm", n, batch, False, **penalty))
    assert torch.equal(by_sample(out), stock * s.float()[:, None])


@pytest.mark.parametrize("estimator", ["gae", "reinforce", "rloo", "reinforce_baseline", "dr_grpo"])
def test_other_estimators_are_bit_identical(em, estimator):
    n = 4
    groups = [(1.0, [1, 0, 0, 1]), (2.0, [1, 1, 0, 1]), (1.3, [0, 0, 0, 1])]
    batch = make_batch(groups, n, kl=0.05, seed=3)
    kw = dict(kl_coef=0.01, overlong_buffer_len=2, overlong_penalty_factor=0.5)
    a, b = run(em, estimator, n, batch, False, **kw), run(em, estimator, n, batch, True, **kw)
    assert_bit_identical(a, b)


def test_stock_mode_is_bit_identical(em, monkeypatch):
    monkeypatch.setenv("RLEV_GRPO", "stock")
    batch = make_batch([(1.0, PATTERNS[4]), (2.0, PATTERNS[4])], 4, kl=0.05)
    a, b = run(em, "group_norm", 4, batch, False, kl_coef=0.01), run(em, "group_norm", 4, batch, True, kl_coef=0.01)
    for x, y in zip(a, b):
        assert torch.equal(x.advantages, y.advantages)


def test_concurrent_calls_each_weight_their_own_batch(em, monkeypatch):
    """Two make_experience calls at once (threads: an async trainer, or anything else) each get the advantages of a
    call made alone, and neither leaves a weight behind. The interleaving is forced, not hoped for: OpenRLHF's real
    compute_reward is wrapped in a rendezvous that holds the first micro-batch of each thread until the other thread
    has reached it too, so both calls are inside OpenRLHF's compute_advantages_and_returns at the same time (a
    wrapper that swapped the module's compute_reward per call would hand one thread the other's weights)."""
    import threading

    n, pattern = 4, PATTERNS[4]
    batches = {
        "a": make_batch([(1.0, pattern), (2.0, pattern)], n, kl=0.05, seed=1),
        "b": make_batch([(3.0, pattern), (1.5, [0, 1, 1, 1])], n, kl=0.05, seed=2),
    }
    alone = {name: by_sample(run(em, "group_norm", n, batch, True, kl_coef=0.1)) for name, batch in batches.items()}
    stock = by_sample(run(em, "group_norm", n, batches["a"], False, kl_coef=0.1))

    meeting, waited = threading.Barrier(2, timeout=30), threading.local()
    openrlhf_compute_reward = em.compute_reward

    def rendezvous(*args, **kwargs):
        if not getattr(waited, "done", False):
            waited.done = True
            meeting.wait()  # both threads are now mid-call
        return openrlhf_compute_reward(*args, **kwargs)

    monkeypatch.setattr(em, "compute_reward", rendezvous)
    wrapped = grpo.wrap(em.RemoteExperienceMaker.compute_advantages_and_returns)
    results, errors = {}, []

    def call(name):
        try:
            maker = make_maker(em, "group_norm", n, kl_coef=0.1)
            results[name] = by_sample(wrapped(maker, copy.deepcopy(batches[name])))
        except BaseException as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=call, args=(name,)) for name in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert meeting.n_waiting == 0 and not meeting.broken  # the two calls did overlap
    for name in batches:
        assert torch.equal(results[name], alone[name]), name
    assert not torch.equal(alone["a"], stock)  # the weight matters in this batch
    # afterwards, an unweighted call through the same module (and the router) is OpenRLHF's own group_norm: no
    # weight left behind
    waited.done = True  # this thread passes the rendezvous
    original = em.RemoteExperienceMaker.compute_advantages_and_returns
    after = original(make_maker(em, "group_norm", n, kl_coef=0.1), copy.deepcopy(batches["a"]))
    assert torch.equal(by_sample(after), stock)


def test_scale_from_labels_when_logs_lack_it(em, monkeypatch):
    """No info['rlev/scale']: s(x) comes from the label's value and the settings (alpha 5: v=0.1 -> s=1.5)."""
    monkeypatch.setenv("RLEV_ALPHA", "5")
    n, pattern = 4, PATTERNS[4]
    batch = make_batch([(1.0, pattern), (1.0, pattern)], n)
    for e in batch:
        del e.info["rlev/scale"]
        e.labels = [json.dumps({"answer": "4", "value": 0.1 if i >= n else 0.0}) for i in e.index]
    adv = per_sample(run(em, "group_norm", n, batch, True)).split(n)
    assert adv[0].abs().sum() > 0
    torch.testing.assert_close(adv[1], 1.5 * adv[0])


def test_missing_scale_is_a_clear_error(em):
    n = 4
    batch = make_batch([(1.0, PATTERNS[4])], n)
    for e in batch:
        del e.info["rlev/scale"]
        e.labels = []
    with pytest.raises(grpo.MissingSignal, match="rlev/scale"):
        run(em, "group_norm", n, batch, True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "mixed"])
def test_invalid_or_partial_scales_are_refused(em, bad):
    """The same contract as upstream's weight_key: finite, >= 0, one per sample (a batch where only some samples
    logged a scale merges into a shorter tensor)."""
    n = 4
    batch = make_batch([(1.0, PATTERNS[4]), (2.0, PATTERNS[4])], n)
    if bad == "mixed":
        batch[0].info["rlev/scale"] = batch[0].info["rlev/scale"][1:]
    else:
        batch[1].info["rlev/scale"][0] = bad
    with pytest.raises(grpo.MissingSignal, match="entries for|finite and >= 0"):
        run(em, "group_norm", n, batch, True)


# ── the same advantages as the upstream change (patches/advantage-weight) ──

PATCHES = Path(__file__).resolve().parents[3] / "patches" / "advantage-weight"


@pytest.fixture(scope="module")
def upstream_em(em, tmp_path_factory):
    """experience_maker.py of the installed OpenRLHF with the upstream change applied (git apply, no fuzz), loaded
    with the same stubs as `em`: the 0.11.2 variant on 0.11.2, the v0.11.0 commit on the releases whose
    compute_advantages_and_returns equals v0.11.0's (0.10.2-0.11.1, one fingerprint)."""
    from importlib.metadata import version

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    series = PATCHES / "openrlhf-0.11.2" if version("openrlhf") == "0.11.2" else PATCHES
    (patch,) = series.glob("*.patch")
    relative = "openrlhf/trainer/ppo_utils/experience_maker.py"
    root = tmp_path_factory.mktemp("upstream")
    (root / relative).parent.mkdir(parents=True)
    shutil.copy(ROOT / "trainer/ppo_utils/experience_maker.py", root / relative)
    subprocess.run(["git", "apply", f"--include={relative}", str(patch)], cwd=root, check=True)
    assert grpo.upstream_weights_advantages(root / "openrlhf") and not grpo.upstream_weights_advantages(ROOT)
    spec = importlib.util.spec_from_file_location("_rlev_upstream_experience_maker", root / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EQUIVALENCE_GROUPS = [
    (1.0, [1, 0, 0, 1]),
    (2.0, [1, 0, 0, 1]),
    (1.5, [1, 1, 1, 0]),
    (1.3, [0, 0, 0, 0]),
    (2.0, [1, 1, 1, 1]),
    ([1.0, 2.0, 1.5, 1.2], [1, 0, 1, 0]),  # s varying inside a group: each sample is weighted by its own
]
PENALTIES = {
    "none": {},
    "overlong": {"overlong_buffer_len": 2, "overlong_penalty_factor": 1.0},
    "overlong-half": {"overlong_buffer_len": 3, "overlong_penalty_factor": 0.5},
    "stop-scale": {"stop_properly_penalty_coef": 0.5},
    "stop-zero": {"stop_properly_penalty_coef": 0.0},
    "stop-fixed": {"stop_properly_penalty_coef": -0.5},
    "both": {"overlong_buffer_len": 2, "overlong_penalty_factor": 1.0, "stop_properly_penalty_coef": -0.5},
}


@pytest.mark.parametrize("penalty", sorted(PENALTIES))
@pytest.mark.parametrize("kl_coef,clip_range", [(0.0, (-10, 10)), (0.1, (-10, 10)), (0.1, (-1.5, 1.5))])
@pytest.mark.parametrize("reward_dtype", [torch.float32, torch.bfloat16])
def test_wrapper_equals_the_upstream_change(em, upstream_em, penalty, kl_coef, clip_range, reward_dtype):
    n = 4
    batch = make_batch(EQUIVALENCE_GROUPS, n, reward_dtype=reward_dtype, kl=0.05, seed=7)
    kw = dict(kl_coef=kl_coef, clip_range=clip_range, **PENALTIES[penalty])
    wrapper = run(em, "group_norm", n, batch, True, **kw)
    upstream = copy.deepcopy(batch)
    upstream = upstream_em.RemoteExperienceMaker.compute_advantages_and_returns(
        make_maker(upstream_em, "group_norm", n, weight_key=grpo.WEIGHT_KEY, **kw), upstream
    )
    stock = run(em, "group_norm", n, batch, False, **kw)
    assert not torch.equal(by_sample(wrapper), by_sample(stock))  # the case is one where the weight matters
    assert_bit_identical(wrapper, upstream)


def test_upstream_argv_passes_the_scale_key_once_and_refuses_another():
    def args(key=None):
        advantage = SimpleNamespace(estimator="group_norm") if key is None else SimpleNamespace(weight_key=key)
        return SimpleNamespace(algo=SimpleNamespace(advantage=advantage))

    unset = args()
    assert grpo.upstream_argv(unset) == ["--algo.advantage.weight_key", "rlev/scale"]
    assert unset.algo.advantage.weight_key == "rlev/scale"
    assert grpo.upstream_argv(args("rlev/scale")) == []
    with pytest.raises(grpo.IncompatibleOpenRLHF, match="--rlev.grpo stock"):
        grpo.upstream_argv(args("my/weight"))


def _names_installed_version(label: str) -> bool:
    """A TESTED label ("openrlhf 0.10.2/0.10.3") names the installed version: no test pins one version."""
    from importlib.metadata import version

    return version("openrlhf") in label.split(" ", 1)[1].split("/")


def test_installed_openrlhf_is_a_tested_one():
    assert _names_installed_version(grpo.check_compatible())


def _copy_fingerprinted(tmp_path):
    for relative, _ in grpo._FINGERPRINTED:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    return tmp_path


def test_version_guard_refuses_changed_code(tmp_path):
    root = _copy_fingerprinted(tmp_path)
    installed = grpo.check_compatible()
    assert grpo.check_compatible(root) == installed
    path = root / "trainer/ppo_utils/experience_maker.py"
    text = path.read_text()
    path.write_text(text + "\n# a comment outside the wrapped functions does not matter\n")
    assert grpo.check_compatible(root) == installed
    changed = text.replace("(rewards.std(-1, keepdim=True) + 1e-9)", "(rewards.std(-1, keepdim=True) + 1e-6)")
    assert changed != text
    path.write_text(changed)
    with pytest.raises(grpo.IncompatibleOpenRLHF, match="refuses to patch.*--rlev.grpo stock"):
        grpo.check_compatible(root)


def test_version_guard_refuses_missing_function(tmp_path):
    root = _copy_fingerprinted(tmp_path)
    path = root / "trainer/ppo_utils/length_penalty.py"
    path.write_text(path.read_text().replace("def apply_length_penalties(", "def apply_penalties("))
    with pytest.raises(grpo.IncompatibleOpenRLHF, match="apply_length_penalties"):
        grpo.check_compatible(root)


def test_install_patches_on_import_and_only_once(em):
    saved = sys.modules.pop(EM)
    try:
        assert grpo.install() == "deferred"
        assert grpo.install() == "deferred"
        assert import_hooks.pending(grpo.TARGET_MODULE)
        assert sum(isinstance(f, import_hooks._Finder) for f in sys.meta_path) == 1
        fresh = importlib.import_module(EM)
        assert fresh is not saved
        method = fresh.RemoteExperienceMaker.compute_advantages_and_returns
        assert getattr(method, grpo.PATCHED_MARK, False)
        assert method.__wrapped__.__name__ == "compute_advantages_and_returns"
        assert grpo.install() == "patched"  # already loaded: patched in place, not wrapped twice
        assert fresh.RemoteExperienceMaker.compute_advantages_and_returns is method
    finally:
        grpo.uninstall()
        sys.modules[EM] = saved


def test_import_fails_loudly_on_untested_openrlhf(em, monkeypatch):
    """In the trainer actor the wrapper installs on import; on code it does not know, that import fails."""
    monkeypatch.setattr(grpo, "TESTED", {})
    saved = sys.modules.pop(EM)
    try:
        grpo.install()
        with pytest.raises(grpo.IncompatibleOpenRLHF, match="refuses to patch"):
            importlib.import_module(EM)
    finally:
        grpo.uninstall()
        sys.modules[EM] = saved
