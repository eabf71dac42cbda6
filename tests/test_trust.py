"""Regressions of issue 9's findings: what a careless or hostile input did to prepare, eval and the reward."""

import json
import os

import pytest

from openrlhf_rlev.cli.eval import main as eval_main
from openrlhf_rlev.cli.prepare import main as prepare_main
from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare import writer
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.labels import MAX_LABEL_CHARS

GOOD = {"query": "1+1?", "label": "2", "score": 1, "total": 4}
HUGE = "1" + "0" * 400  # an integer beyond float range, as JSON text


def write_lines(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines))
    return str(path)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


# ---- 1. never write over an input; rejects keep the original row ----


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "rejects", "summary"])
def test_prepare_refuses_to_write_over_its_input(tmp_path, capsys, how):
    src = write_lines(tmp_path / "in.jsonl", [GOOD, "{oops"])
    out = {
        "same": src,
        "rejects": str(tmp_path / "in.jsonl").replace("in.jsonl", "x.jsonl"),
        "summary": str(tmp_path / "y.jsonl"),
    }.get(how, str(tmp_path / "link.jsonl"))
    if how == "symlink":
        os.symlink(src, out)
    elif how == "hardlink":
        os.link(src, out)
    elif how == "rejects":
        os.rename(src, tmp_path / "x.rejects.jsonl")
        src = str(tmp_path / "x.rejects.jsonl")
    elif how == "summary":  # a .json input that would be this run's summary file
        os.rename(src, tmp_path / "y.summary.json")
        src = str(tmp_path / "y.summary.json")
    before = snapshot(tmp_path)
    assert prepare_main([src, "-o", out, "--quiet"]) == 2
    assert "overwritten" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_rejects_keep_the_original_row(tmp_path):
    bad = {"query": "no label", "score": 1, "total": 4, "extra": [1, {"k": "v"}]}
    src = write_lines(tmp_path / "in.jsonl", [GOOD, "{oops", bad, ["a", "list"]])
    assert prepare_main([src, "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    raws = {r["row"]: r["raw"] for r in read_jsonl(tmp_path / "out.rejects.jsonl")}
    assert raws == {2: "{oops", 3: bad, 4: ["a", "list"]}


# ---- 2. numbers beyond float range ----


def test_number_beyond_float_range_is_one_rejected_row(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(GOOD) + "\n" + f'{{"query": "q", "label": "1", "score": {HUGE}, "total": 4}}\n')
    assert prepare_main([str(src), "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1
    (reject,) = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert reject["reason"] == R.BAD_VALUE and reject["row"] == 2 and "characters" in reject["detail"]


def test_label_value_beyond_float_range_is_label_bad_value():
    for label in ({"answer": "2", "value": int(HUGE)}, f'{{"answer": "2", "value": {HUGE}}}'):
        out = reward_func(["2"], [""], [label])
        assert out["extra_logs"]["rlev/fail_label_bad_value"] == 1.0
        assert out["extra_logs"]["rlev/fail_internal_error"] == 0.0


# ---- 3. directories holding this run's outputs; schema trouble per row ----


def test_directory_input_skips_its_own_outputs_on_rerun(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_lines(data / "a.jsonl", [GOOD, {"query": "3+4?", "label": "7", "score": 2, "total": 4}])
    argv = [str(data), "-o", str(data / "out.jsonl"), "--quiet"]
    assert prepare_main(argv) == 0
    first = snapshot(data)
    assert prepare_main(argv) == 0, capsys.readouterr().err
    assert snapshot(data) == first
    assert json.load(open(data / "out.summary.json"))["files"] == [str(data / "a.jsonl")]


def test_output_linked_to_a_file_in_a_directory_input_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_lines(data / "a.jsonl", [GOOD])
    os.symlink(data / "a.jsonl", tmp_path / "out.jsonl")
    before = snapshot(data)
    assert prepare_main([str(data), "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 2
    assert "overwritten" in capsys.readouterr().err and snapshot(data) == before


def test_version_is_the_installed_one(capsys):
    from importlib.metadata import version

    from openrlhf_rlev.cli.main import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"openrlhf-rlev {version('openrlhf-rlev')}"


def test_demo_limit_means_the_first_rows_not_a_smaller_sample(monkeypatch, tmp_path):
    import openrlhf_rlev.prepare as prepare_package
    from openrlhf_rlev.evaluation import demo

    seen = []
    monkeypatch.setattr(prepare_package, "prepare", lambda opts: seen.append(opts) or {})
    demo._prepare(demo.DemoConfig(out=str(tmp_path), limit=3), str(tmp_path / "data.jsonl"))
    assert seen[0].sample == demo.DEFAULT_SAMPLE and seen[0].limit is None


def test_unexpected_schema_is_rejected_per_row_not_per_file(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", [{"text": "an odd first row"}, GOOD, {"other": 1}])
    assert prepare_main([src, "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["row"], r["reason"]) for r in rejects] == [(1, R.UNKNOWN_SCHEMA), (3, R.UNKNOWN_SCHEMA)]
    assert "columns: text" in rejects[0]["detail"]


def test_json_object_file_is_one_row(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps(GOOD))
    assert prepare_main([str(tmp_path / "one.json"), "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1


# ---- 4. failures that exited 0 ----


@pytest.mark.parametrize("content", ["", "\n\n", "{oops\n"])
def test_prepare_with_no_usable_row_exits_1_and_writes_nothing(tmp_path, capsys, content):
    (tmp_path / "in.jsonl").write_text(content)
    assert prepare_main([str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "no usable row" in err and "nothing written" in err
    assert os.listdir(tmp_path) == ["in.jsonl"]


def test_eval_counts_rejected_rows_in_the_summary(tmp_path, capsys):
    rows = [{"response": "Answer: 2", "label": "2"}] * 5 + [{"response": 3, "label": "2"}] * 10
    pred = write_lines(tmp_path / "p.jsonl", rows)
    assert eval_main([pred, "--no-plots", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("rows: read 15 = scored 5 + rejected 10")
    assert "WARNING: 10 of 15 rows rejected" in err and os.path.exists(tmp_path / "p.eval.rejects.jsonl")


@pytest.mark.parametrize("content, why", [("", "the file has no rows"), ('{"x": 1}\n', "every row was rejected")])
def test_eval_with_nothing_scored_exits_1_and_names_only_files_it_wrote(tmp_path, capsys, content, why):
    (tmp_path / "p.jsonl").write_text(content)
    assert eval_main([str(tmp_path / "p.jsonl"), "--no-plots", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert why in err
    for line in (out + err).splitlines():  # every file it points to exists
        if line.startswith(("rejects:", "metrics:")):
            assert os.path.exists(line.split(": ", 1)[1])
    assert os.path.exists(tmp_path / "p.eval.rejects.jsonl") == bool(content)


# ---- 5. a group that loses rows to rejects ----


def group_rows(points_of_rejected):
    good = {"q": "kept", "a": "1", "v": 1, "g": "exam"}
    bad = [{"q": "", "a": "1", "v": p, "g": "exam"} for p in points_of_rejected]  # rejected: empty question
    return [good] + bad


@pytest.mark.parametrize("rejected_points, value, unknown", [([1, 1, 1], 0.25, 0), (["?", 1, 1], 1 / 3, 1)])
def test_group_total_counts_rejected_rows_points(tmp_path, capsys, rejected_points, value, unknown):
    src = write_lines(tmp_path / "in.jsonl", group_rows(rejected_points))
    argv = [src, "-o", str(tmp_path / "out.jsonl"), "--input-key", "q", "--answer-key", "a"]
    assert prepare_main(argv + ["--value-key", "v", "--group-key", "g"]) == 0
    (row,) = read_jsonl(tmp_path / "out.jsonl")
    assert row["label"]["value"] == pytest.approx(value)  # not 1.0: the survivor is not the whole exam
    text = capsys.readouterr().out
    assert "WARNING: group exam lost 3 rows to rejects" in text
    assert ("unknown points" in text) == bool(unknown)
    warning = json.load(open(tmp_path / "out.summary.json"))["groups_with_rejects"]
    assert warning == [{"group": "exam", "rejected": 3, "points_known": 3 - unknown, "points_unknown": unknown}]


# ---- 6. the output set is all or nothing ----


@pytest.mark.parametrize("failing", ["summary", "rows"])
def test_failed_write_keeps_the_previous_set_and_leaves_no_temporaries(tmp_path, monkeypatch, failing):
    src = write_lines(tmp_path / "in.jsonl", [GOOD, "{oops"])
    out = str(tmp_path / "out.jsonl")
    assert prepare_main([src, "-o", out, "--quiet"]) == 0
    before = snapshot(tmp_path)
    write_lines(tmp_path / "in2.jsonl", [GOOD, GOOD, GOOD])
    before["in2.jsonl"] = (tmp_path / "in2.jsonl").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_json" if failing == "summary" else "_write_line", disk_full)
    assert prepare_main([str(tmp_path / "in2.jsonl"), "-o", out, "--quiet"]) == 2
    assert snapshot(tmp_path) == before


# ---- 7. and 8. labels: bounded size, truncated JSON ----


def test_huge_label_is_refused_before_verification():
    for label in (
        "1" * (MAX_LABEL_CHARS + 1),
        {"answer": "1" * (MAX_LABEL_CHARS + 1)},
        {"answer": ["1"] * (MAX_LABEL_CHARS + 1)},
    ):
        assert score("1", label).reason == reasons.LABEL_MALFORMED
    assert score("1", "1" * 1000).reason is None  # a long but sane label is still verified


@pytest.mark.parametrize("label", ['{"answer": "2", "value": ', '{"answer": "2"', '{"answer" 2}', '{ "a'])
def test_truncated_json_label_is_label_malformed(label):
    out = reward_func(["2"], [""], [label])
    assert out["extra_logs"]["rlev/fail_label_malformed"] == 1.0 and out["rewards"] == 0.0


def test_set_answers_in_braces_stay_plain_answers():
    assert score("The answer is \\boxed{\\{1, 2\\}}", "{1, 2}").reason != reasons.LABEL_MALFORMED


# ---- 9. CSV rows that do not match the header ----


def test_csv_rows_with_extra_or_missing_fields_are_rejected(tmp_path):
    (tmp_path / "in.csv").write_text("q,a,v\nfine,1,0.5\nextra,1,0.5,surprise\nshort,1\nfine too,2,0.25\n")
    argv = [str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.jsonl"), "--quiet"]
    assert prepare_main(argv + ["--input-key", "q", "--answer-key", "a", "--value-key", "v"]) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 2
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["row"], r["reason"]) for r in rejects] == [(2, R.BAD_ROW), (3, R.BAD_ROW)]
    assert (
        rejects[0]["raw"] == ["extra", "1", "0.5", "surprise"] and "4 fields, the header has 3" in rejects[0]["detail"]
    )


def test_csv_bytes_that_are_not_utf8_are_one_rejected_row(tmp_path):
    (tmp_path / "in.csv").write_bytes(b"q,a,v\nfine,1,0.5\nbad \xff\xfe,1,0.5\n")
    argv = [str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.jsonl"), "--quiet"]
    assert prepare_main(argv + ["--input-key", "q", "--answer-key", "a", "--value-key", "v"]) == 0
    (reject,) = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert reject["reason"] == R.BAD_TEXT and "bad" in reject["raw"]


def test_a_second_format_does_not_take_over_the_first_ones_side_files(tmp_path, capsys):
    """g.jsonl and g.parquet would share g.rejects.jsonl and g.summary.json: the second is refused, nothing lost."""
    assert prepare_main(["--gaokao", "--sample", "5", "-o", str(tmp_path / "g.jsonl"), "--quiet"]) == 0
    before = snapshot(tmp_path)
    assert prepare_main(["--gaokao", "--sample", "5", "-o", str(tmp_path / "g.parquet"), "--quiet"]) == 2
    assert "already has its rejects and summary" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
    assert prepare_main(["--gaokao", "--sample", "5", "-o", str(tmp_path / "g.jsonl"), "--quiet"]) == 0  # a rerun
