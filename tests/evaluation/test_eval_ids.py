"""`eval --data` joins predictions to the prepared rows by id: duplicate ids are refused, and JSON types are kept
apart (0 is not "0"), so no prediction is silently scored against another row's label."""

import json

import pytest

from openrlhf_rlev.cli import eval as eval_cli
from openrlhf_rlev.evaluation.evaluate import evaluate


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def row(answer, value, id_):
    return {"prompt": "q", "label": {"answer": [answer], "value": value, "verifier": "choice"}, "id": id_}


def test_duplicate_ids_in_the_data_are_refused_naming_them(tmp_path, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", [row("A", 0.1, "x.jsonl:1"), row("B", 0.9, "x.jsonl:1")])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "x.jsonl:1", "response": "Answer: B"}])
    with pytest.raises(ValueError, match=r'id "x.jsonl:1" is on rows 0 and 1'):
        evaluate(preds, data=data, progress=False)
    assert eval_cli.main([preds, "--data", data, "--quiet", "--no-plots"]) == 2
    assert "ids must be unique" in capsys.readouterr().err


def test_number_and_string_ids_stay_apart(tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", [row("A", 0.2, 0), row("B", 0.8, "0")])
    preds = [{"id": 0, "response": "Answer: A"}, {"id": "0", "response": "Answer: A"}]
    m = evaluate(write_jsonl(tmp_path / "p.jsonl", preds), data=data, progress=False).metrics
    # id 0 joins the row answered A (right, v 0.2); id "0" joins the row answered B (wrong, v 0.8)
    assert m["n_scored"] == 2 and m["acc"] == 0.5 and m["h_acc"] == pytest.approx(0.2)


def test_an_id_of_the_wrong_type_is_rejected_with_a_hint(tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", [row("A", 0.2, "7")])
    result = evaluate(write_jsonl(tmp_path / "p.jsonl", [{"id": 7, "response": "A"}]), data=data, progress=False)
    assert result.metrics["n_rejected"] == 1
    assert (
        "id 7 is not in --data" in result.rejects[0]["reason"] and "JSON types differ" in result.rejects[0]["reason"]
    )
