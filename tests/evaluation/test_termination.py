"""`openrlhf-rlev termination`: per-position P(EOS) from batched, left-padded forward passes equals a direct
teacher-forced forward pass of each (prompt, response) alone; groups are the top/bottom prompts by value.

The model is a tiny randomly initialised `LlamaForCausalLM` built from a config in this file (real transformers
code, nothing downloaded), with the shared byte-level chat tokenizer."""

import json

import pytest
import torch

from openrlhf_rlev.evaluation import termination as term
from openrlhf_rlev.evaluation.generate import prompt_token_ids, render_prompt

PNG = b"\x89PNG\r\n\x1a\n"


def predictions(tmp_path, n=10, samples=1):
    """n prompts with values 0.05, 0.10, ...; responses of different lengths."""
    rows = []
    for i in range(n):
        for s in range(samples):
            rows.append(
                {
                    "index": i,
                    "sample": s,
                    "prompt": [{"role": "user", "content": f"Question {i}: " + "x" * (3 * i)}],
                    "response": f"Answer {s}: " + "abc " * (i % 4 + s),
                    "label": {"answer": ["A"], "value": round(0.05 * (i + 1), 2)},
                }
            )
    rows.append({"index": 99, "prompt": "p", "response": "r", "label": "A"})  # no value: skipped
    rows.append("{torn")
    path = tmp_path / "pred.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return str(path), [r for r in rows if isinstance(r, dict) and r["index"] != 99]


def direct_p_eos(model, tok, row) -> list[float]:
    """The definition, computed the plain way: one unpadded forward, softmax over the full logits."""
    prompt_ids = prompt_token_ids(tok, render_prompt(tok, row["prompt"]))
    response_ids = tok(row["response"], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + response_ids])).logits[0]
    probs = torch.softmax(logits.float(), dim=-1)[:, tok.eos_token_id]
    p = len(prompt_ids)
    return probs[p - 1 : p + len(response_ids)].tolist()  # positions t = 0..L


def test_batched_probabilities_equal_direct_forward(tmp_path, model, byte_tokenizer):
    path, rows = predictions(tmp_path)
    examples, skipped = term.load_examples(path, byte_tokenizer)
    assert len(examples) == len(rows) and sum(skipped.values()) == 2
    got = term.eos_probabilities(model, examples, [byte_tokenizer.eos_token_id], batch_size=3)
    for ex, row, curve in zip(examples, rows, got):
        want = direct_p_eos(model, byte_tokenizer, row)
        assert len(curve) == len(ex.response_ids) + 1
        assert curve == pytest.approx(want, abs=1e-6, rel=1e-4)
    # the random model is not flat: the test would notice positions being shifted by one
    assert max(max(c) for c in got) > 2 * min(min(c) for c in got)


def test_curves_average_the_right_groups(tmp_path, model, byte_tokenizer):
    path, rows = predictions(tmp_path, n=10, samples=2)
    result = term.termination_curves(model, byte_tokenizer, path, k=3, progress=False)
    assert result["k"] == 3 and result["n_prompts"] == 10 and result["eos_token_ids"] == [byte_tokenizer.eos_token_id]
    top, bottom = result["top"], result["bottom"]
    assert top["prompts"] == ["index:7", "index:8", "index:9"] and (top["value_min"], top["value_max"]) == (0.4, 0.5)
    assert bottom["prompts"] == ["index:0", "index:1", "index:2"] and bottom["n_responses"] == 6
    for name, group in (("top", {7, 8, 9}), ("bottom", {0, 1, 2})):
        curves = [direct_p_eos(model, byte_tokenizer, r) for r in rows if r["index"] in group]
        length = max(len(c) for c in curves)
        want = [sum(c[t] for c in curves if len(c) > t) / sum(len(c) > t for c in curves) for t in range(length)]
        assert result[name]["p_eos"] == pytest.approx(want, abs=1e-6, rel=1e-4)
        assert result[name]["n"] == [sum(len(c) > t for c in curves) for t in range(length)]


def test_mean_curve_and_truncation():
    means, counts = term.mean_curve([[0.1, 0.2, 0.3], [0.3]], max_positions=2)
    assert means == pytest.approx([0.2, 0.2]) and counts == [2, 1]


def test_cli_writes_json_and_plot_and_overlays_a_comparison(tmp_path, model, byte_tokenizer, capsys):
    from openrlhf_rlev.cli import termination as cli

    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    byte_tokenizer.save_pretrained(folder)
    path, _ = predictions(tmp_path)
    base = tmp_path / "base.json"
    argv = [
        "--model",
        str(folder),
        "--predictions",
        path,
        "--k",
        "2",
        "--name",
        "baseline",
        "-o",
        str(base),
        "--quiet",
    ]
    assert cli.main(argv) == 0
    curves = json.loads(base.read_text())
    assert curves["model"] == "baseline" and len(curves["top"]["prompts"]) == 2
    assert curves["top"]["windows"] and sum(w["end"] - w["start"] for w in curves["top"]["windows"]) == len(
        curves["top"]["p_eos"]
    )
    other = tmp_path / "rlev.json"
    argv = ["--model", str(folder), "--predictions", path, "--k", "2", "-o", str(other), "--compare", str(base)]
    assert cli.main(argv + ["--quiet"]) == 0
    for png in (tmp_path / "base.png", tmp_path / "rlev.png"):
        data = png.read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    assert "top-2" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    assert cli.main(argv[:-2] + ["--compare", str(tmp_path / "bad.json"), "--quiet"]) == 2
    assert "not a termination curves JSON" in capsys.readouterr().err


def test_window_bands_average_each_response_then_across_responses():
    a = [1e-2] * 4 + [1e-4] * 4  # two windows of 4
    b = [1e-4] * 4  # ended early: only in the first window
    ws = term.window_bands([a, b], 4)
    assert [(w["start"], w["end"], w["n"]) for w in ws] == [(0, 4, 2), (4, 8, 1)]
    assert ws[0]["log10_mean"] == pytest.approx(-3) and ws[1]["log10_mean"] == pytest.approx(-4)
    assert ws[0]["lo"] < -3 < ws[0]["hi"]  # responses disagree: a band
    assert ws[1]["lo"] == ws[1]["hi"] == pytest.approx(-4)  # one response: no spread to show
    assert term.window_bands([[0.0, 0.0, 0.0, 0.0]], 4)[0]["log10_mean"] == pytest.approx(-12)  # the floor
