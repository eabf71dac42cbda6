"""The demo: resuming only the same run, and (slow) the whole demo on the real SmolLM2 GGUF with outputs that are
consistent with each other (its OpenRLHF scoring step is tested in tests/integrations/openrlhf/test_replay.py)."""

import json

import pytest

from openrlhf_rlev.evaluation import demo
from openrlhf_rlev.integrations.openrlhf import replay
from openrlhf_rlev.reward.core import score

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_changed_run_does_not_resume_into_old_outputs(tmp_path):
    cfg = demo.DemoConfig(out=str(tmp_path), sample=10)
    demo._check_run(cfg, str(tmp_path / "run.json"))
    demo._check_run(cfg, str(tmp_path / "run.json"))  # same run: fine
    with pytest.raises(demo.DemoError, match="different data"):
        demo._check_run(demo.DemoConfig(out=str(tmp_path), sample=20), str(tmp_path / "run.json"))


@pytest.mark.slow
def test_demo_end_to_end_on_smollm2(tmp_path, capsys):
    from openrlhf_rlev.cli import demo as cli

    out = tmp_path / "demo"
    # seed 3: 3 of the 4 sampled prompts fit the default 384-token budget, so both value groups have responses
    argv = ["--out", str(out), "--sample", "4", "--seed", "3", "--max-new-tokens", "8", "--batch-size", "4"]
    argv += ["--threads", "1"]
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["torch_threads"] == 1  # --threads is honoured
    assert summary["scoring_path"] == replay.PATH_EXECUTOR
    assert f"outputs in {out}" in stdout and "openrlhf.utils.agent.SingleTurnAgentExecutor" in stdout

    data = [json.loads(x) for x in (out / "data.jsonl").read_text().splitlines()]
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    gen = summary["generation"]
    assert len(data) == 4 and gen["written"] + gen["skipped"] == 4 and len(preds) == gen["written"] >= 2
    for p in preds:
        assert p["label"] == data[p["index"]]["label"] and 1 <= p["n_tokens"] <= 8

    # The metrics follow from the predictions, recomputed here with the core scorer.
    verdicts = [score(p["response"], p["label"]) for p in preds]
    values = [v.value for v in verdicts]
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == len(preds) and m["length_unit"] == "tokens"
    assert m["acc"] == pytest.approx(sum(v.correct for v in verdicts) / len(preds))
    assert m["h_acc"] == pytest.approx(sum(v.value * v.correct for v in verdicts) / sum(values))
    assert m["mean_length"] == pytest.approx(sum(p["n_tokens"] for p in preds) / len(preds))
    assert summary["metrics"]["h_acc"] == m["h_acc"] and summary["reward_vs_eval_disagreements"] == 0

    # Rewards came back from OpenRLHF's executor, one per response, equal to the core's r = s(x) * 1[correct].
    rewards = {r["index"]: r for r in map(json.loads, (out / "rewards.jsonl").read_text().splitlines())}
    assert set(rewards) == {p["index"] for p in preds}
    for p, v in zip(preds, verdicts):
        r = rewards[p["index"]]
        assert r["reward"] == pytest.approx(v.reward) and r["extra_logs"]["rlev/prompt_not_found"] == 0.0
        assert r["extra_logs"]["rlev/scale"] == pytest.approx(v.scale)

    curves = json.loads((out / "termination.json").read_text())
    assert curves["eos_token_ids"] == [2]  # <|im_end|>, not the GGUF metadata's <|im_start|>
    for g in ("top", "bottom"):
        assert curves[g]["prompts"] and all(0.0 <= x <= 1.0 for x in curves[g]["p_eos"])
    for png in ("acc_by_value.png", "length_by_value.png", "termination.png"):
        blob = (out / png).read_bytes()
        assert blob.startswith(PNG) and len(blob) > 5000, png

    # A rerun with nothing to do touches nothing: no model load, no step recomputed.
    stamps = {f.name: f.stat().st_mtime_ns for f in out.iterdir() if f.name != "run.json"}
    assert cli.main(argv) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert {f.name: f.stat().st_mtime_ns for f in out.iterdir() if f.name != "run.json"} == stamps
    (out / "predictions.jsonl").write_text((out / "predictions.jsonl").read_text().splitlines(True)[0])
    assert cli.main(argv) == 0  # predictions changed: the missing ones are generated again
    assert "nothing to do" not in capsys.readouterr().err
    assert len((out / "predictions.jsonl").read_text().splitlines()) == len(preds)


@pytest.mark.slow
def test_smollm2_tokenizer_keeps_spaces_without_the_cleanup_warning():
    from openrlhf_rlev.evaluation.model_loading import load_tokenizer

    tok = load_tokenizer("smollm2")
    assert tok.clean_up_tokenization_spaces is False
    text = "Answer: A , B . So it is ( C ) !"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
