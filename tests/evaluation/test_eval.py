"""`openrlhf-rlev eval`: hand-computed metrics, bad rows, joins, length units, and a cross-check of
`--partial-credit` against GAOKAO-Bench's official objective scoring rule on real GAOKAO-Bench items."""

import json
import os
import random
import shutil

import pytest

from openrlhf_rlev.cli import eval as eval_cli
from openrlhf_rlev.evaluation import metrics
from openrlhf_rlev.evaluation.evaluate import choice_credit, evaluate, markdown_table, output_paths, write_outputs

PNG = b"\x89PNG\r\n\x1a\n"


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


def label(answer, value):
    return {"answer": [answer], "value": value, "verifier": "choice"}


def answer(letter):
    return f"Some working.\nAnswer: {letter}"


# ---- hand-computed metrics ----


def test_metrics_by_hand(tmp_path):
    # values 0.1 .. 0.4; correct on 0.1 and 0.3; lengths 30..60 characters.
    rows = []
    for i, (v, ok, n) in enumerate([(0.1, True, 30), (0.2, False, 40), (0.3, True, 50), (0.4, False, 60)]):
        resp = answer("B" if ok else "C").rjust(n, ".")
        assert len(resp) == n
        rows.append({"index": i, "response": resp, "label": label("B", v), "datasource": "d"})
    m = evaluate(write_jsonl(tmp_path / "p.jsonl", rows), progress=False).metrics
    assert m["n"] == 4 and m["acc"] == 0.5
    assert m["h_acc"] == pytest.approx((0.1 + 0.3) / 1.0)
    assert m["length_unit"] == "characters" and m["mean_length"] == 45.0
    assert m["value_density"] == pytest.approx(40.0 / 45.0)
    # 20% of 4 prompts rounds to 1: the top is v=0.4 (wrong), the bottom v=0.1 (right).
    assert (m["acc_top20"], m["acc_bottom20"]) == (0.0, 1.0)
    assert m["per_datasource"]["d"]["h_acc"] == pytest.approx(0.4)


def test_samples_are_averaged_per_prompt_first(tmp_path):
    # prompt 0: 3 samples, 2 right; prompt 1: 1 sample, right. Per prompt: (2/3 + 1) / 2, not 3/4.
    rows = [{"index": 0, "sample": s, "response": answer(x), "label": label("A", 0.2)} for s, x in enumerate("AAB")]
    rows.append({"index": 1, "sample": 0, "response": answer("D"), "label": label("D", 0.6)})
    m = evaluate(write_jsonl(tmp_path / "p.jsonl", rows), progress=False).metrics
    assert (m["n"], m["n_responses"]) == (2, 4)
    assert m["acc"] == pytest.approx(5 / 6)
    assert m["h_acc"] == pytest.approx((0.2 * 2 / 3 + 0.6) / 0.8)


def test_value_bins_and_top_bottom_are_by_value_rank():
    results = [metrics.PromptResult(f"k{i}", v, float(i % 2), 10.0 * i, 1) for i, v in enumerate([0.5, 0.1, 0.3, 0.2])]
    bins = metrics.value_bins(results, n_bins=2)
    assert [(b.lo, b.hi, b.n) for b in bins] == [(0.1, 0.2, 2), (0.3, 0.5, 2)]
    # bin 0 = k1 (v 0.1, right, 10) + k3 (v 0.2, right, 30); bin 1 = k2 (v 0.3, wrong, 20) + k0 (v 0.5, wrong, 0)
    assert (bins[0].acc, bins[0].mean_length, bins[1].acc, bins[1].mean_length) == (1.0, 20.0, 0.0, 10.0)
    top, bottom = metrics.top_bottom(results, k=5)  # capped at n // 2 so the groups never overlap
    assert [r.key for r in top] == ["k0", "k2"] and [r.key for r in bottom] == ["k1", "k3"]
    assert metrics.value_density(None, 10) is None and metrics.h_accuracy([]) is None


def test_no_value_labels_give_acc_but_no_h_acc(tmp_path):
    rows = [{"response": answer("A"), "label": "A"}, {"response": answer("B"), "label": "C"}]
    m = evaluate(write_jsonl(tmp_path / "p.jsonl", rows), progress=False).metrics
    assert m["acc"] == 0.5 and m["h_acc"] is None and m["value_density"] is None
    assert m["n_without_value"] == 2


# ---- bad rows, joins, units ----


def test_bad_rows_are_counted_and_written_never_fatal(tmp_path):
    lines = [
        {"index": 0, "response": answer("A"), "label": label("A", 0.5)},  # good
        "{not json",
        "[1, 2]",
        {"index": 2, "label": label("A", 0.5)},  # no response
        {"index": 3, "response": answer("A"), "label": {"answer": "A", "value": 2.0}},  # value out of range
        {"response": answer("A")},  # no label, no --data
        "",  # blank lines are not rows
        {"index": 5, "response": answer("C"), "label": label("B", 0.25)},  # good, wrong
    ]
    pred = write_jsonl(tmp_path / "p.jsonl", lines)
    result = evaluate(pred, progress=False)
    m = result.metrics
    assert (m["n_rows_read"], m["n_scored"], m["n_rejected"]) == (7, 2, 5)
    assert m["acc"] == 0.5 and m["h_acc"] == pytest.approx(0.5 / 0.75)
    reasons = {r["line"]: r["reason"] for r in result.rejects}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert reasons[2].startswith("invalid JSON") and "not an object" in reasons[3]
    assert "response" in reasons[4] and "label_bad_value" in reasons[5] and "--data" in reasons[6]
    paths = output_paths(pred, str(tmp_path / "out" / "m.json"))
    write_outputs(result, paths, plots=False)
    with open(paths["rejects"]) as f:
        assert [json.loads(x)["line"] for x in f] == [2, 3, 4, 5, 6]


def test_labels_join_from_data_by_index_then_id(tmp_path):
    data = [
        {"prompt": "q0", "label": label("A", 0.1), "datasource": "x", "id": "a"},
        {"prompt": "q1", "label": label("B", 0.3), "datasource": "y", "id": "b"},
    ]
    data_path = write_jsonl(tmp_path / "data.jsonl", data)
    preds = [
        {"index": 1, "response": answer("B")},  # joins row 1 by index: right, v 0.3, datasource y
        {"id": "a", "response": answer("C")},  # joins row 0 by id: wrong
        {"index": 7, "response": answer("A")},  # no such row
        {"index": 0, "response": answer("D"), "label": label("D", 0.1)},  # its own label wins
    ]
    result = evaluate(write_jsonl(tmp_path / "p.jsonl", preds), data=data_path, progress=False)
    m = result.metrics
    assert m["n_scored"] == 3 and m["n_rejected"] == 1 and "index 7" in result.rejects[0]["reason"]
    assert set(m["per_datasource"]) == {"x", "y"} and m["per_datasource"]["y"]["acc"] == 1.0
    # keys: index:1 (right), id:a (wrong), index:0 (right: its own label) -> 2/3
    assert m["acc"] == pytest.approx(2 / 3)


def test_length_units(tmp_path, byte_tokenizer):
    rows = [
        {"index": 0, "response": "Answer: A", "label": label("A", 0.5), "n_tokens": 7},
        {"index": 1, "response": "答案：B", "label": label("B", 0.5), "n_tokens": 3},
    ]
    pred = write_jsonl(tmp_path / "p.jsonl", rows)
    assert evaluate(pred, progress=False).metrics["mean_length"] == 5.0  # n_tokens as generated
    m = evaluate(pred, tokenizer=byte_tokenizer, tokenizer_name="bytes", progress=False).metrics
    # The byte-level tokenizer has one token per UTF-8 byte: 9, and 10 for 答案：B (three 3-byte characters + B).
    assert m["length_unit"] == "tokens" and m["mean_length"] == (9 + 10) / 2
    rows[1].pop("n_tokens")
    m = evaluate(write_jsonl(tmp_path / "q.jsonl", rows), progress=False).metrics
    assert m["length_unit"] == "characters" and m["mean_length"] == (9 + 4) / 2
    rows[1]["n_tokens"] = 10**400  # no token count (found by tests/test_hostile.py): characters, no OverflowError
    m = evaluate(write_jsonl(tmp_path / "r.jsonl", rows), progress=False).metrics
    assert m["length_unit"] == "characters" and m["mean_length"] == (9 + 4) / 2


def test_cli_writes_json_table_and_plots(tmp_path, capsys):
    rng = random.Random(1)
    rows = []
    for i in range(30):
        v = round(0.01 + 0.03 * i, 3)
        right = rng.random() < 0.3 + v
        rows.append(
            {
                "index": i,
                "response": answer("A" if right else "B") + " ." * i,
                "label": label("A", v),
                "datasource": f"gaokao/{'Math' if i % 2 else 'Bio'}",
            }
        )
    rows.append("garbage")
    pred = write_jsonl(tmp_path / "p.jsonl", rows)
    assert eval_cli.main([pred, "-o", str(tmp_path / "m.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    m = json.loads((tmp_path / "m.json").read_text())
    for key in ("n", "acc", "h_acc", "mean_length", "value_density", "acc_top20", "acc_bottom20", "per_datasource"):
        assert key in m
    assert m["n"] == 30 and m["n_rejected"] == 1 and m["n_top20"] == 6
    assert "| **all** | 30 |" in out and "| gaokao/Math | 15 |" in out and f"{100 * m['h_acc']:.1f}" in out
    for png in ("m.acc_by_value.png", "m.length_by_value.png"):
        data = (tmp_path / png).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    assert (tmp_path / "m.rejects.jsonl").exists()


def test_cli_fails_cleanly_on_empty_and_missing_input(tmp_path, capsys):
    pred = write_jsonl(tmp_path / "p.jsonl", ["nope"])
    assert eval_cli.main([pred, "--quiet", "--no-plots"]) == 1
    assert eval_cli.main([str(tmp_path / "missing.jsonl"), "--quiet"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


# ---- partial credit: GAOKAO-Bench's official objective scoring rule ----


def test_choice_credit_rules():
    assert choice_credit("Answer: A C B", ("A", "C", "D")) == pytest.approx(2 / 3)
    assert choice_credit("Answer: A C", ("A", "C", "D")) == 0.0  # answer count differs: nothing
    assert choice_credit("Answer: B", ("BD",)) == 0.5  # multi-select subset: half
    assert choice_credit("Answer: BCD", ("BD",)) == 0.0  # a wrong letter: nothing
    assert choice_credit("Answer: DB", ("BD",)) == 1.0


def test_partial_credit_leaves_other_verifiers_all_or_nothing(tmp_path):
    rows = [
        {"response": "so \\boxed{42}", "label": {"answer": "42", "value": 0.5}},
        {"response": "Answer: A B", "label": {"answer": ["A", "C"], "value": 0.5}},
    ]
    m = evaluate(write_jsonl(tmp_path / "p.jsonl", rows), partial_credit=True, progress=False).metrics
    assert m["n_partial_credit_rows"] == 1 and m["acc"] == pytest.approx((1 + 0.5) / 2)


GAOKAO_FILES = {
    "2010-2022_Physics_MCQs.json": True,  # multi-select entries like "BD": the half-credit rule
    "2010-2022_Geography_MCQs.json": False,  # 2-3 questions per item
    "2010-2022_English_Fill_in_Blanks.json": False,  # 20 blanks of 1.5 points
    "2012-2022_English_Cloze_Test.json": False,  # five of seven, letters A-G
    "2010-2022_Chinese_Modern_Lit.json": False,
    "2010-2022_Math_I_MCQs.json": False,
}


def _gaokao_dir():
    from openrlhf_rlev.prepare.gaokao import bundled_dir

    bundled = os.path.join(bundled_dir(), "Objective_Questions")
    return bundled if os.path.isdir(bundled) else "/work/shared/data/gaokao-bench/Objective_Questions"


def _model_answer(rng, gold: list[str]) -> list[str]:
    """A plausible mix of right, wrong, incomplete multi-select, over-selected and missing answers."""
    if len(gold) > 1 and rng.random() < 0.1:
        return gold[:-1]  # one answer short
    out = []
    for g in gold:
        r = rng.random()
        if r < 0.55:
            out.append(g)
        elif len(g) > 1 and r < 0.8:
            out.append("".join(sorted(rng.sample(g, len(g) - 1))))  # right letters, not all of them
        elif len(g) > 1 and r < 0.9:
            out.append("".join(sorted(set(g) | {next(c for c in "ABCD" if c not in g)})))  # one wrong letter
        else:
            out.append(rng.choice([c for c in "ABCDEFG"[: max(4, len(set(gold)) + 2)] if c not in g]))
    return out


def _official_score(model: list[str], std: list[str], score: float, physics: bool) -> tuple[float, float]:
    """GAOKAO-Bench Bench/OBJ_score_evaluation.py, restated: (total points, points earned) of one question."""
    if len(model) != len(std):
        model = ["Z"] * len(std)
    total = len(std) * score
    earned = 0.0
    for m, s in zip(model, std):
        if m == s:
            earned += score
        elif physics and all(ch in s for ch in m):
            earned += score / 2  # the official Physics rule: right but incomplete earns 3 of 6
    return total, earned


def test_partial_credit_equals_gaokao_official_score(tmp_path):
    from openrlhf_rlev.cli.prepare import main as prepare_main

    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    raw = {}
    for name in GAOKAO_FILES:
        shutil.copy(os.path.join(_gaokao_dir(), name), raw_dir / name)
        with open(raw_dir / name, encoding="utf-8") as f:
            raw[name] = json.load(f)["example"]
    data = tmp_path / "data.jsonl"
    # A fixed total makes every value proportional to the question's points, as the official rate weights them.
    assert prepare_main(["--gaokao", str(raw_dir), "--total", "150", "-o", str(data), "--quiet"]) == 0

    rng = random.Random(0)
    preds, all_right, n = [], 0, 0
    official = {}  # datasource -> [total points, points earned]
    for i, line in enumerate(data.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        name, num = row["id"].rsplit(":", 1)
        ex = raw[name][int(num) - 1]
        std = [str(a) for a in ex["answer"]]
        assert row["label"]["answer"] == std
        model = _model_answer(rng, std)
        t, e = _official_score(model, std, float(ex["score"]), GAOKAO_FILES[name])
        for key in ("all", row["datasource"]):
            official.setdefault(key, [0.0, 0.0])
            official[key][0] += t
            official[key][1] += e
        all_right += model == std
        n += 1
        preds.append({"index": i, "response": "Let me work through it.\nAnswer: " + " ".join(model)})
    pred_path = write_jsonl(tmp_path / "p.jsonl", preds)
    assert n > 300  # every item of the six files made it through prepare

    m = evaluate(pred_path, data=str(data), partial_credit=True, progress=False).metrics
    official_rate = official["all"][1] / official["all"][0]
    assert 0.3 < official_rate < 0.9  # a real mix, not all right or all wrong
    assert m["n"] == n and m["n_partial_credit_rows"] == n
    assert m["h_acc"] == pytest.approx(official_rate, rel=1e-12)
    # Per file too: each datasource's H-Acc is that file's official scoring rate.
    assert set(m["per_datasource"]) == set(official) - {"all"}
    for ds, (total, earned) in official.items():
        if ds != "all":
            assert m["per_datasource"][ds]["h_acc"] == pytest.approx(earned / total, rel=1e-12), ds
    default = evaluate(pred_path, data=str(data), progress=False).metrics
    assert default["acc"] == pytest.approx(all_right / n)  # all-or-nothing, like the reward
    assert default["h_acc"] < m["h_acc"]  # partial credit only adds


def test_markdown_table_handles_missing_numbers():
    m = metrics.summarize([])
    m.update(
        length_unit="tokens",
        length_source="x",
        partial_credit=False,
        n_rejected=0,
        n_rows_read=0,
        n_scored=0,
        per_datasource={},
    )
    table = markdown_table(m)
    assert "| **all** | 0 | – | – |" in table


def test_the_table_counts_where_answers_came_from_and_the_rows_that_named_none(tmp_path):
    rows = [
        {"index": 0, "response": "Answer: B", "label": label("B", 0.1)},
        {"index": 1, "response": "\\boxed{B}", "label": label("B", 0.1)},
        {"index": 2, "response": "B", "label": label("B", 0.1)},
        {"index": 3, "response": "I think B is it", "label": label("B", 0.1)},
        {"index": 4, "response": "A. 1\nB. 2\nC. 3\nD. 4", "label": label("B", 0.1)},
        {"index": 5, "response": "I think B is it", "label": {**label("B", 0.1), "answer_format": "strict"}},
    ]
    result = evaluate(write_jsonl(tmp_path / "p.jsonl", rows), partial_credit=True, progress=False)
    m = result.metrics
    assert m["answer_sources"] == {"boxed": 1, "marker": 1, "bare": 1, "guess": 3, "none": 0}
    assert m["fail_reasons"] == {"options_listed": 1, "answer_format": 1}
    assert m["acc"] == pytest.approx(4 / 6)  # the option list and the strict guess earn nothing, partial credit too
    table = markdown_table(m)
    assert "| answers from | boxed | marker | bare | guess | none | options listed | answer format |" in table
    assert "| rows | 1 | 1 | 1 | 3 | 0 | 1 | 1 |" in table
