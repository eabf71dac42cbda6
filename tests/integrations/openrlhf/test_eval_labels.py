"""`prepare --eval`: OpenRLHF's own eval_<ds>_pass1 equals Acc for <ds>/acc and H-Acc for <ds>/h_acc.

Driven through OpenRLHF's REAL code: the eval rows are loaded by `blending_datasets` + `PromptDataset` (a tiny
real tokenizer whose chat template trims message content, like Llama 3's), rewards come from our `reward_func`,
and the metrics from the real `compute_eval_metrics` in `openrlhf/trainer/ppo_trainer.py`. Stubbed: only the
GPU-only packages that module imports at the top and that are not installed on a CPU machine (vllm, deepspeed,
peft, flash_attn, torchdata); compute_eval_metrics itself uses none of them. Generation (vLLM) is replaced by
fixed responses whose correctness we choose, so Acc and H-Acc are known by hand.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import types

import pytest

from openrlhf_rlev.integrations.openrlhf import eval_metrics
from openrlhf_rlev.integrations.openrlhf.eval_labels import DEFAULT_MARKER, eval_rows
from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.prepare import PrepareOptions, prepare
from openrlhf_rlev.reward.labels import parse_label

GPU_ONLY = ("vllm", "deepspeed", "peft", "flash_attn", "torchdata")
TRIM_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] | trim }}<eos>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# question -> (datasource, points out of 100, answer, answered correctly?)
QUESTIONS = [
    ("exam/a", 5, "A", True),
    ("exam/a", 5, "B", False),
    ("exam/a", 50, "C", True),
    ("exam/b", 10, "D", False),
    ("exam/b", 30, "A", True),
]
# By hand: exam/a Acc = 2/3, H-Acc = (5 + 50) / 60; exam/b Acc = 1/2, H-Acc = 30 / 40.
EXPECTED = {"exam/a": (2 / 3, 55 / 60), "exam/b": (1 / 2, 30 / 40)}


class _Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: tuple[str, ...]):
        self.roots = roots

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


@pytest.fixture(scope="module")
def compute_eval_metrics():
    missing = tuple(m for m in GPU_ONLY if importlib.util.find_spec(m) is None)  # stub only what is absent
    finder = _StubFinder(missing)
    before = set(sys.modules)
    sys.meta_path.insert(0, finder)
    try:
        from openrlhf.trainer.ppo_trainer import compute_eval_metrics as real
    finally:
        sys.meta_path.remove(finder)
        # Leave no stubbed or stub-bound module behind for other tests.
        for name in set(sys.modules) - before:
            if name.split(".")[0] in missing or name.startswith("openrlhf.trainer"):
                del sys.modules[name]
    return real


@pytest.fixture(scope="module")
def load_eval(load_prompt_dataset):
    def load(path, batch_size=2):
        raw, ds = load_prompt_dataset(path, TRIM_TEMPLATE)
        # what strategy.setup_dataloader(eval_dataset, 1, True, False, collate_fn) yields: unshuffled batches
        batches = [
            ds.collate_fn([ds[j] for j in range(i, min(i + batch_size, len(ds)))])
            for i in range(0, len(ds), batch_size)
        ]
        return raw, ds, batches

    return load


def write_questions(tmp_path):
    path = tmp_path / "questions.jsonl"
    with open(path, "w") as f:
        for n, (ds, pts, ans, _) in enumerate(QUESTIONS, start=1):
            row = {"q": f"Question {n}: which option, {ans}?", "a": ans, "pts": pts, "total": 100, "datasource": ds}
            f.write(json.dumps(row) + "\n")
    return str(path)


def prepare_eval(tmp_path, out):
    """`openrlhf-rlev prepare --eval` on the QUESTIONS above."""
    return prepare(
        PrepareOptions(
            inputs=[write_questions(tmp_path)],
            output=out,
            input_key="q",
            answer_key="a",
            value_key="pts",
            total_key="total",
            eval=True,
            progress=False,
        )
    )


def samples_for(raw, ds, n_samples, second_wrong):
    """One Experience per sample, as the real SamplesGenerator returns them (grouped by prompt), with the reward
    from our reward_func on query = prompt + response + EOS text, exactly as OpenRLHF calls it."""
    import torch
    from openrlhf.trainer.ppo_utils.experience import Experience

    out = []
    for i in range(len(ds)):
        _, prompt, label, _ = ds[i]
        question = int(raw[i]["id"].split(":")[1].split("#")[0]) - 1
        answer, correct = QUESTIONS[question][2], QUESTIONS[question][3]
        for k in range(n_samples):
            right = correct and not (second_wrong and k == 1)
            said = answer if right else ("B" if answer != "B" else "C")
            query = prompt + f"Let me think step by step.\nAnswer: {said}<eos>"
            result = reward_func([query], [prompt], [label])
            out.append(
                Experience(
                    prompts=[prompt],
                    labels=[label],
                    rewards=torch.tensor([result["rewards"]]),
                    response_length=torch.tensor([9]),
                    truncated=torch.tensor([False]),
                    # as SamplesGenerator._process_response_into_experience keeps the reward's extra_logs
                    info={k: torch.tensor([v]) for k, v in result["extra_logs"].items()},
                )
            )
    return out


@pytest.mark.slow  # imports openrlhf's trainer module (transformers, ray): ~10 s once
def test_openrlhf_pass1_is_acc_and_h_acc(tmp_path, compute_eval_metrics, load_eval, monkeypatch):
    for var in ("RLEV_SCALING", "RLEV_ALPHA", "RLEV_VERIFIER"):
        monkeypatch.delenv(var, raising=False)  # label scales must win over any setting
    out = str(tmp_path / "eval.jsonl")
    summary = prepare_eval(tmp_path, out)
    assert summary["eval"] == {"scope": "datasource", "acc_rows": 5, "h_acc_rows": 5, "h_acc_undefined": []}
    raw, ds, batches = load_eval(out)
    assert len(ds) == 10 and len(set(ds.prompts)) == 10  # the marker survives the trimming chat template
    assert max(label["scale"] for label in ds.labels) == pytest.approx(50 / 20)  # > 2 is allowed and exact
    assert all(parse_label(label).scale is not None for label in ds.labels)

    logs = compute_eval_metrics(batches, samples_for(raw, ds, 1, False), 1)
    for name, (acc, h_acc) in EXPECTED.items():
        assert logs[f"eval_{name}/acc_pass1"] == pytest.approx(acc)
        assert logs[f"eval_{name}/h_acc_pass1"] == pytest.approx(h_acc)
    assert logs["eval_num_samples"] == 10.0

    # n_samples_per_prompt = 2, second sample always wrong: pass1 halves, pass2 is Acc / H-Acc again
    logs = compute_eval_metrics(batches, samples_for(raw, ds, 2, True), 2)
    for name, (acc, h_acc) in EXPECTED.items():
        assert logs[f"eval_{name}/acc_pass1"] == pytest.approx(acc / 2)
        assert logs[f"eval_{name}/h_acc_pass1"] == pytest.approx(h_acc / 2)
        assert logs[f"eval_{name}/acc_pass2"] == pytest.approx(acc)
        assert logs[f"eval_{name}/h_acc_pass2"] == pytest.approx(h_acc)


@pytest.mark.slow
def test_identical_duplicate_prompts_would_collapse(tmp_path, compute_eval_metrics, load_eval):
    """Why the H-Acc copy carries a marker: OpenRLHF maps a sample to its datasource by prompt text."""
    out = str(tmp_path / "eval.jsonl")
    prepare_eval(tmp_path, out)
    naive = tmp_path / "naive.jsonl"
    with open(out) as f, open(naive, "w") as g:
        g.write(f.read().replace("\\u200b", "").replace(DEFAULT_MARKER, ""))
    raw, ds, batches = load_eval(str(naive))
    assert len(set(ds.prompts)) == 5
    logs = compute_eval_metrics(batches, samples_for(raw, ds, 1, False), 1)
    assert "eval_exam/a/acc_pass1" not in logs  # every sample was counted under the last row's datasource
    acc, h_acc = EXPECTED["exam/a"]
    assert logs["eval_exam/a/h_acc_pass1"] == pytest.approx((acc + h_acc) / 2)


@pytest.mark.slow
def test_launcher_route_logs_acc_and_h_acc_from_one_generation(tmp_path, compute_eval_metrics, load_eval):
    """Without --eval: one row and one generation per question; the setup hook's wrapper around the real
    compute_eval_metrics adds eval_<ds>/acc and eval_<ds>/h_acc from the samples' rlev/* info."""
    out = str(tmp_path / "eval.jsonl")
    options = dict(input_key="q", answer_key="a", value_key="pts", total_key="total", progress=False)
    prepare(PrepareOptions(inputs=[write_questions(tmp_path)], output=out, **options))
    raw, ds, batches = load_eval(out)
    assert len(ds) == len(QUESTIONS)
    samples = samples_for(raw, ds, 1, False)
    wrapped = eval_metrics._wrap(compute_eval_metrics)
    logs, own = wrapped(batches, samples, 1), compute_eval_metrics(batches, samples, 1)
    assert {k: logs[k] for k in own} == own  # OpenRLHF's own metrics are untouched
    for name, (acc, h_acc) in EXPECTED.items():
        assert logs[f"eval_{name}/acc"] == pytest.approx(acc)
        assert logs[f"eval_{name}/h_acc"] == pytest.approx(h_acc)
        assert logs[f"eval_{name}_pass1"] != pytest.approx(acc)  # the reward's pass@1 is s-weighted: neither
    assert logs["eval_all/acc"] == pytest.approx(3 / 5)
    assert logs["eval_all/h_acc"] == pytest.approx((5 + 50 + 30) / 100)
    assert logs["eval_num_samples"] == len(QUESTIONS)  # one generation per question

    # Two samples per prompt, the second always wrong: Acc and H-Acc count every sample
    logs = wrapped(batches, samples_for(raw, ds, 2, True), 2)
    for name, (acc, h_acc) in EXPECTED.items():
        assert logs[f"eval_{name}/acc"] == pytest.approx(acc / 2)
        assert logs[f"eval_{name}/h_acc"] == pytest.approx(h_acc / 2)

    # Another reward func (no rlev/* info): OpenRLHF's own metrics only (a malformed info: see the test below)
    for s in samples:
        s.info = {}
    assert set(wrapped(batches, samples, 1)) == set(own)


def test_eval_metrics_patch_is_idempotent_and_checks_the_signature():
    import types

    def compute_eval_metrics(eval_dataloader, samples_list, n_samples_per_prompt):
        return {"eval_x_pass1": 1.0}

    def other(dataloader, samples):
        return {}

    module = types.ModuleType("fake_trainer")
    module.compute_eval_metrics = compute_eval_metrics
    eval_metrics.patch(module)
    once = module.compute_eval_metrics
    eval_metrics.patch(module)
    assert module.compute_eval_metrics is once and once is not compute_eval_metrics
    assert once([], [], 1) == {"eval_x_pass1": 1.0}  # no samples: nothing to add
    module.compute_eval_metrics = other
    eval_metrics.patch(module)
    assert module.compute_eval_metrics is other  # not the tested API: left alone


def test_eval_metrics_survive_a_malformed_info(caplog):
    import types

    sample = types.SimpleNamespace(prompts=["p1", "p2"], info={"rlev/correct": [1.0]})  # 2 prompts, 1 value
    wrapped = eval_metrics._wrap(lambda dataloader, samples, n: {"eval_num_samples": 2.0})
    with caplog.at_level("WARNING", logger="openrlhf_rlev"):
        assert wrapped([(["d", "d"], ["p1", "p2"])], [sample], 1) == {"eval_num_samples": 2.0}
    assert "eval Acc/H-Acc not computed" in caplog.text


def rows(values_by_ds):
    return [
        {
            "prompt": [{"role": "user", "content": f"q{i}"}],
            "label": {"answer": ["A"], "value": v, "verifier": "choice"},
            "datasource": ds,
            "id": f"f:{i}",
        }
        for i, (ds, v) in enumerate((ds, v) for ds, vs in values_by_ds.items() for v in vs)
    ]


def test_eval_rows_scales_and_scopes():
    out, undefined = eval_rows(rows({"x": [0.1, 0.3], "y": [0.2], "z": [0.0, 0.0]}))
    assert undefined == ["z"]
    got = {(r["datasource"], r["prompt"][0]["content"]): r["label"]["scale"] for r in out}
    assert got == {
        ("x/acc", "q0"): 1.0,
        ("x/h_acc", "q0" + DEFAULT_MARKER): pytest.approx(0.5),
        ("x/acc", "q1"): 1.0,
        ("x/h_acc", "q1" + DEFAULT_MARKER): pytest.approx(1.5),
        ("y/acc", "q2"): 1.0,
        ("y/h_acc", "q2" + DEFAULT_MARKER): pytest.approx(1.0),
        ("z/acc", "q3"): 1.0,
        ("z/acc", "q4"): 1.0,
    }
    out, undefined = eval_rows(rows({"x": [0.1, 0.3], "y": [0.2]}), scope="all", marker=" [H]")
    assert undefined == [] and {r["datasource"] for r in out} == {"all/acc", "all/h_acc"}
    h = [r for r in out if r["datasource"] == "all/h_acc"]
    assert [r["label"]["scale"] for r in h] == pytest.approx([0.5, 1.5, 1.0])
    assert sum(r["label"]["scale"] for r in h) == pytest.approx(len(h))  # mean scale 1: H-Acc of all-correct is 1
    assert all(r["prompt"][0]["content"].endswith(" [H]") for r in h)
    with pytest.raises(ValueError, match="eval-marker"):
        eval_rows(rows({"x": [0.1]}), marker="  ")


def test_eval_summary_warns_when_h_acc_is_undefined(tmp_path):
    path = tmp_path / "zero.jsonl"
    path.write_text(json.dumps({"query": "q", "label": "A", "score": 0, "total": 10}) + "\n")
    out = str(tmp_path / "e.jsonl")
    s = prepare(PrepareOptions(inputs=[str(path)], output=out, eval=True, progress=False))
    assert s["eval"]["h_acc_undefined"] == ["zero"] and s["rows"] == 1
    from openrlhf_rlev.prepare.summary import format_text

    assert "WARNING" in format_text(s)


def test_eval_rejects_a_prompt_shared_by_two_datasources(tmp_path):
    path = tmp_path / "dup.jsonl"
    lines = [
        {"query": "Same question?", "label": "A", "score": 1, "total": 10, "datasource": "math_i"},
        {"query": "Same question?", "label": "A", "score": 1, "total": 10, "datasource": "math_ii"},
        {"query": "Other question?", "label": "B", "score": 2, "total": 10, "datasource": "math_ii"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = str(tmp_path / "e.jsonl")
    s = prepare(PrepareOptions(inputs=[str(path)], output=out, eval=True, progress=False))
    rejects = [json.loads(x) for x in open(tmp_path / "e.rejects.jsonl")]
    assert [(r["row"], r["reason"]) for r in rejects] == [(2, "duplicate_prompt")]
    assert "dup.jsonl:1" in rejects[0]["detail"]
    assert s["counts"]["read"] == s["counts"]["written"] + s["counts"]["rejected"] == 3
    assert s["rows_per_datasource"] == {"math_i/acc": 1, "math_i/h_acc": 1, "math_ii/acc": 1, "math_ii/h_acc": 1}
    # without --eval the same rows are fine: training labels travel with each sample
    s = prepare(PrepareOptions(inputs=[str(path)], output=str(tmp_path / "t.jsonl"), progress=False))
    assert s["counts"]["rejected"] == 0
