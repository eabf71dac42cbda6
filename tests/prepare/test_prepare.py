"""`openrlhf-rlev prepare`: readers, values, rejects, and OpenRLHF's real loaders reading the output.

Nothing is stubbed: OpenRLHF's `blending_datasets` and `PromptDataset` run for real on the written files, with a
tiny real `tokenizers` tokenizer carrying a chat template (loading SmolLM2's GGUF tokenizer takes ~10 s).
"""

import csv
import json
import math
import os
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openrlhf_rlev
from openrlhf_rlev.cli.prepare import main as cli_main
from openrlhf_rlev.prepare import PrepareError, PrepareOptions, gaokao, prepare
from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare.gaokao import bundled_dir, paper_category, subject
from openrlhf_rlev.prepare.values import load_difficulty_map

GAOKAO = bundled_dir()
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] | trim }}<eos>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


# ---------- helpers ----------


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run(tmp_path, inputs, name="out.jsonl", **kw):
    out = str(tmp_path / name)
    summary = prepare(PrepareOptions(inputs=[str(p) for p in inputs], output=out, progress=False, **kw))
    rows = read_jsonl(out) if out.endswith(".jsonl") else None
    return out, rows, summary


def counts_add_up(summary):
    c = summary["counts"]
    extra = c["skipped_open_ended"] + c["skipped_sample"] + c["skipped_limit"]
    return c["read"] == c["written"] + c["rejected"] + extra


def by_id(rows):
    return {r["id"]: r for r in rows}


# ---------- OpenRLHF's real loaders ----------


@pytest.fixture(scope="module")
def openrlhf_loaders(load_prompt_dataset):
    return lambda path: load_prompt_dataset(path, TEMPLATE)


@pytest.mark.slow  # the first openrlhf.datasets import pulls in transformers (~10 s)
@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_bundled_gaokao_loads_in_openrlhf(tmp_path, openrlhf_loaders, ext):
    out, _, summary = run(tmp_path, [GAOKAO], name=f"gk.{ext}", fmt="gaokao", subjects=["Math_I", "Physics"])
    data, ds = openrlhf_loaders(out)
    assert len(ds) == summary["counts"]["written"] == summary["rows"] > 300
    assert set(ds.datasources) == {"gaokao/Math_I_MCQs", "gaokao/Math_I_Fill-in-the-Blank", "gaokao/Physics_MCQs"}
    for prompt, label in zip(ds.prompts, ds.labels):
        assert isinstance(label, dict) and set(label) == {"answer", "value", "verifier", "answer_format"}
        assert label["answer_format"] == "strict"  # the format its instruction asked for survives into the reward
        assert isinstance(label["answer"], list) and 0 < label["value"] <= 1
        assert prompt.startswith("<|user|>\n") and prompt.endswith("<|assistant|>\n")
    # prompt is chat messages, as --data.apply_chat_template expects
    assert data[0]["prompt"][0]["role"] == "user"

    # By hand: the first Math_I MCQ (2010, 新课标) is 5 points of the national maths paper's printed 150.
    first = next(i for i, d in enumerate(data) if d["id"] == "2010-2022_Math_I_MCQs.json:1")
    assert ds.labels[first]["value"] == pytest.approx(5 / 150)
    assert ds.labels[first]["verifier"] == "choice"
    raw = json.load(open(os.path.join(GAOKAO, "Objective_Questions", "2010-2022_Math_I_MCQs.json")))["example"][0]
    assert ds.labels[first]["answer"] == raw["answer"]
    assert raw["question"].strip()[:40] in ds.prompts[first]
    assert "Answer: <letter(s)>" in ds.prompts[first]
    fill = [lab for lab, src in zip(ds.labels, ds.datasources) if src == "gaokao/Math_I_Fill-in-the-Blank"]
    assert fill and all(lab["verifier"] == "math" for lab in fill)


def paper_totals_by_hand(subject_name):
    """Independent of the reader: sum score x entries over every file of one subject, by year and category."""
    totals = defaultdict(float)
    for folder in ("Objective_Questions", "Subjective_Questions"):
        for name in os.listdir(os.path.join(GAOKAO, folder)):
            if subject(name[10:-5]) != subject_name:
                continue
            for ex in json.load(open(os.path.join(GAOKAO, folder, name)))["example"]:
                n = len(ex["answer"]) if isinstance(ex["answer"], list) else 1
                totals[(ex["year"], paper_category(ex["category"]))] += ex["score"] * n
    return totals


def test_gaokao_bench_values_are_share_of_paper_across_files(tmp_path):
    out, rows, summary = run(tmp_path, [GAOKAO], fmt="gaokao", subjects=["Math_II"], paper_total="bench")
    totals = paper_totals_by_hand("Math_II")
    ex = json.load(open(os.path.join(GAOKAO, "Subjective_Questions", "2010-2022_Math_II_Fill-in-the-Blank.json")))
    rows = by_id(rows)
    for i, e in enumerate(ex["example"], start=1):
        expected = e["score"] / totals[(e["year"], paper_category(e["category"]))]
        assert rows[f"2010-2022_Math_II_Fill-in-the-Blank.json:{i}"]["label"]["value"] == pytest.approx(expected)
    # open-ended questions count toward their paper but are skipped (and counted), not written
    assert summary["skipped_open_ended_by_datasource"] == {"gaokao/Math_II_Open-ended_Questions": 122}
    assert summary["files_skipped"] and counts_add_up(summary)
    assert not any("Open-ended" in r for r in rows)


def test_gaokao_printed_paper_totals_by_subject_with_visible_fallback(tmp_path, capsys):
    out = str(tmp_path / "gk.jsonl")
    assert cli_main(["--gaokao", "--subjects", "Physics,English,Chemistry", "-o", out]) == 0
    text = capsys.readouterr().out
    rows = by_id(read_jsonl(out))
    for name, total in (("Physics_MCQs", 300), ("English_Reading_Comp", 150), ("Chemistry_MCQs", 300)):
        src = json.load(open(os.path.join(GAOKAO, "Objective_Questions", f"2010-2022_{name}.json")))["example"]
        for i, ex in enumerate(src, start=1):
            # the 2021 "解析版" (annotated edition) questions too: their subject's national paper of that year
            expected = ex["score"] * len(ex["answer"]) / total
            assert rows[f"2010-2022_{name}.json:{i}"]["label"]["value"] == pytest.approx(expected)
    s = json.load(open(tmp_path / "gk.summary.json"))
    assert s["paper_total"] == {"rule": "printed", "printed_total_unknown": {}}
    assert "(the paper's data: mean 0.02, 1.18% above 0.1)" in text
    # a category that names no paper of a subject or year without a known annotated edition still falls back
    doc = {"example": [{"year": "2010", "category": "（解析版）", "score": 6, "answer": ["C"], "question": "q"}]}
    path = tmp_path / "2010-2022_Physics_MCQs.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    out = str(tmp_path / "fb.jsonl")
    assert cli_main([str(path), "-o", out]) == 0
    unknown = json.load(open(tmp_path / "fb.summary.json"))["paper_total"]["printed_total_unknown"]
    assert unknown == {"Physics 2010 （解析版）": 1}
    assert "printed total unknown, fell back to the points in the bench" in capsys.readouterr().out


def test_no_bundled_value_exceeds_what_a_printed_paper_allows(tmp_path):
    """Every bundled question's v is its points over its subject's printed paper total (no bench fallback), so no
    value can inflate a reward: the 2021 "解析版" questions used to fall back to v = 0.333 (s = 2)."""
    out = str(tmp_path / "all.jsonl")
    assert cli_main(["--gaokao", "-o", out]) == 0
    s = json.load(open(tmp_path / "all.summary.json"))
    assert s["paper_total"]["printed_total_unknown"] == {}
    files = {}
    for row in read_jsonl(out):
        name, index = row["id"].rsplit(":", 1)
        if name not in files:
            kind = "Objective_Questions" if os.path.exists(os.path.join(GAOKAO, "Objective_Questions", name)) else ""
            files[name] = json.load(open(os.path.join(GAOKAO, kind or "Subjective_Questions", name)))["example"]
        ex = files[name][int(index) - 1]
        subject = gaokao.subject(gaokao.keyword(name))
        total = gaokao.PRINTED_TOTALS[(subject, gaokao.NATIONAL)]
        points = ex["score"] * len(row["label"]["answer"])
        assert row["label"]["value"] == pytest.approx(points / total), row["id"]


def test_gaokao_fixed_total_and_open_ended(tmp_path):
    _, rows, summary = run(tmp_path, [GAOKAO], fmt="gaokao", subjects=["Math_I"], total=150.0, include_open_ended=True)
    rows = by_id(rows)
    assert rows["2010-2022_Math_I_MCQs.json:1"]["label"]["value"] == pytest.approx(5 / 150)
    open_ended = [r for k, r in rows.items() if "Open-ended" in k]
    assert len(open_ended) == 123 and all(r["label"]["verifier"] == "judge" for r in open_ended)
    assert summary["counts"]["skipped_open_ended"] == 0 and counts_add_up(summary)


def test_gaokao_multi_part_and_string_answers(tmp_path):
    doc = {
        "keywords": "2015-2016_English_Cloze_Test",
        "example": [
            {
                "year": "2015",
                "category": "（新课标Ⅰ）",
                "question": "Q1",
                "answer": ["C", "F"],
                "score": 2,
                "index": 0,
            },
            {"year": "2015", "category": "(新课标i)", "question": "Q2", "answer": "B", "score": 6, "index": 1},
            {"year": "2016", "category": "x", "question": "Q3", "answer": ["A"], "score": 3, "index": 2},
        ],
    }
    path = tmp_path / "2015-2016_English_Cloze_Test.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    _, rows, summary = run(tmp_path, [path], include_open_ended=True, paper_total="bench")
    rows = by_id(rows)
    # one paper despite two spellings of its category: 2 x 2 + 6 = 10 points
    assert rows["2015-2016_English_Cloze_Test.json:1"]["label"]["value"] == pytest.approx(4 / 10)
    assert rows["2015-2016_English_Cloze_Test.json:2"]["label"]["value"] == pytest.approx(6 / 10)
    assert rows["2015-2016_English_Cloze_Test.json:3"]["label"]["value"] == pytest.approx(1.0)
    assert "2 parts" in rows["2015-2016_English_Cloze_Test.json:1"]["prompt"][0]["content"]
    assert summary["rows_per_datasource"] == {"gaokao/English_Cloze_Test": 3}


# ---------- readers ----------


def test_rlev_release_reader(tmp_path):
    path = write_jsonl(
        tmp_path / "rlev.jsonl",
        [
            {"query": "What is 2+3?", "label": "5", "score": 3, "total": 150},
            {
                "query": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Pick: A or B"}],
                "label": "B",
                "score": 12,
                "total": 100,
                "datasource": "exam/x",
            },
        ],
    )
    _, rows, summary = run(tmp_path, [path])
    assert [r["label"]["value"] for r in rows] == pytest.approx([3 / 150, 12 / 100])
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is 2+3?\n\nPut your final answer in \\boxed{}."}]
    assert rows[0]["label"] == {
        "answer": ["5"],
        "value": pytest.approx(0.02),
        "verifier": "math",
        "answer_format": "strict",
    }
    assert rows[1]["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert rows[1]["prompt"][1]["content"].startswith("Pick: A or B\n\nEnd your response with a final line 'Answer:")
    assert rows[1]["label"]["verifier"] == "choice"
    assert [r["datasource"] for r in rows] == ["rlev", "exam/x"]
    assert counts_add_up(summary) and summary["counts"]["written"] == 2


@pytest.mark.parametrize("ext", ["jsonl", "json", "csv", "parquet"])
def test_generic_reader_every_file_type_total_key(tmp_path, ext):
    rows_in = [{"q": f"question {i}", "a": str(i), "pts": i, "tot": 10} for i in range(1, 5)]
    path = tmp_path / f"data.{ext}"
    if ext == "jsonl":
        write_jsonl(path, rows_in)
    elif ext == "json":
        path.write_text(json.dumps(rows_in))
    elif ext == "csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows_in[0]))
            w.writeheader()
            w.writerows(rows_in)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows_in), path)
    _, rows, summary = run(tmp_path, [path], input_key="q", answer_key="a", value_key="pts", total_key="tot")
    assert [r["label"]["value"] for r in rows] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert [r["label"]["answer"] for r in rows] == [["1"], ["2"], ["3"], ["4"]]
    assert {r["datasource"] for r in rows} == {"data"}
    assert summary["counts"]["read"] == 4 and counts_add_up(summary)


def test_generic_group_key_and_direct_value_and_fixed_total(tmp_path):
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {"q": "a", "a": "1", "v": 1, "exam": "e1"},
            {"q": "b", "a": "2", "v": 3, "exam": "e1"},
            {"q": "c", "a": "3", "v": 5, "exam": "e2"},
        ],
    )
    _, rows, _ = run(tmp_path, [path], input_key="q", answer_key="a", value_key="v", group_key="exam")
    assert [r["label"]["value"] for r in rows] == pytest.approx([0.25, 0.75, 1.0])
    _, rows, _ = run(tmp_path, [path], name="t.jsonl", input_key="q", answer_key="a", value_key="v", total=10.0)
    assert [r["label"]["value"] for r in rows] == pytest.approx([0.1, 0.3, 0.5])
    direct = write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "a": "1", "v": 0.4}, {"q": "b", "a": "1", "v": 1.5}])
    _, rows, s = run(tmp_path, [direct], name="d_out.jsonl", input_key="q", answer_key="a", value_key="v")
    assert [r["label"]["value"] for r in rows] == [0.4]
    assert s["rejected_by_reason"] == {R.VALUE_ABOVE_TOTAL: 1}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(
        st.lists(st.floats(min_value=0.01, max_value=1000, allow_nan=False), min_size=1, max_size=6),
        min_size=1,
        max_size=5,
    )
)
def test_group_values_sum_to_one(tmp_path_factory, groups):
    tmp = tmp_path_factory.mktemp("hyp")
    rows_in = [
        {"q": f"{g}-{i}", "a": "x", "v": v, "grp": f"g{g}"} for g, vs in enumerate(groups) for i, v in enumerate(vs)
    ]
    path = write_jsonl(tmp / "in.jsonl", rows_in)
    _, rows, summary = run(tmp, [path], input_key="q", answer_key="a", value_key="v", group_key="grp")
    sums = defaultdict(float)
    for r_in, r in zip(rows_in, rows):
        sums[r_in["grp"]] += r["label"]["value"]
        assert 0 <= r["label"]["value"] <= 1
    assert len(rows) == len(rows_in) and counts_add_up(summary)
    assert all(math.isclose(s, 1.0, rel_tol=1e-9) for s in sums.values())


def test_difficulty_key_default_and_custom_map(tmp_path):
    path = write_jsonl(
        tmp_path / "w.jsonl",
        [
            {"q": "a", "a": "1", "level": "PRIMARY"},
            {"q": "b", "a": "1", "level": "junior_high"},
            {"q": "c", "a": "1", "level": "Senior High"},
            {"q": "d", "a": "1", "level": "university"},
            {"q": "e", "a": "1", "level": "PhD"},
            {"q": "f", "a": "1", "level": "kindergarten"},
        ],
    )
    _, rows, s = run(tmp_path, [path], input_key="q", answer_key="a", difficulty_key="level")
    assert [r["label"]["value"] for r in rows] == pytest.approx([0.01, 0.02, 0.04, 0.06, 0.08])
    assert s["rejected_by_reason"] == {R.UNKNOWN_DIFFICULTY: 1}
    rej = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert rej[0]["row"] == 6 and "kindergarten" in rej[0]["detail"]
    _, rows, _ = run(
        tmp_path,
        [path],
        name="c.jsonl",
        input_key="q",
        answer_key="a",
        difficulty_key="level",
        difficulty_map='{"kindergarten": 50, "PhD": 100}',
    )
    assert [r["label"]["value"] for r in rows] == pytest.approx([1.0, 0.5])
    assert load_difficulty_map(None)["JUNIOR HIGH"] == 0.02
    with pytest.raises(PrepareError, match="difficulty-map"):
        load_difficulty_map('{"a": "lots"}')


def test_shuffle_values_permutes_the_same_multiset(tmp_path):
    rows_in = [{"q": f"q{i}", "a": "1", "v": i + 1, "t": 100} for i in range(20)]
    path = write_jsonl(tmp_path / "s.jsonl", rows_in)
    keys = dict(input_key="q", answer_key="a", value_key="v", total_key="t")
    _, plain, _ = run(tmp_path, [path], **keys)
    _, shuf, _ = run(tmp_path, [path], name="s1.jsonl", shuffle_values=7, **keys)
    _, again, _ = run(tmp_path, [path], name="s2.jsonl", shuffle_values=7, **keys)
    before = [r["label"]["value"] for r in plain]
    after = [r["label"]["value"] for r in shuf]
    assert sorted(before) == sorted(after) and before != after
    assert after == [r["label"]["value"] for r in again]  # the seed makes it reproducible
    assert [r["prompt"] for r in plain] == [r["prompt"] for r in shuf]  # questions stay, values move


def test_alpha_and_scaling_precompute_scale(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"q": "a", "a": "1", "v": 2, "t": 100}, {"q": "b", "a": "1", "v": 50, "t": 100}]
    )
    keys = dict(input_key="q", answer_key="a", value_key="v", total_key="t")
    _, rows, _ = run(tmp_path, [path], **keys)
    assert all("scale" not in r["label"] for r in rows)
    _, rows, s = run(tmp_path, [path], name="r.jsonl", alpha=10.0, **keys)
    assert [r["label"]["scale"] for r in rows] == pytest.approx([1.2, 2.0])
    assert s["value"]["share_above_clip"] == 0.5 and s["scale"]["mean"] == pytest.approx(1.6)
    _, rows, _ = run(tmp_path, [path], name="m.jsonl", alpha=10.0, scaling="multiplicative", **keys)
    assert [r["label"]["scale"] for r in rows] == pytest.approx([1.2, 6.0])
    _, rows, _ = run(tmp_path, [path], name="u.jsonl", scaling="uniform", uniform_scale=1.5, **keys)
    assert [r["label"]["scale"] for r in rows] == [1.5, 1.5]
    from openrlhf_rlev.reward.labels import parse_label

    assert parse_label(rows[0]["label"]).scale == 1.5  # the reward reads what prepare wrote


# ---------- rejects ----------


def test_every_bad_row_kind_is_rejected_with_file_row_reason(tmp_path):
    good = {"q": "fine", "a": "1", "v": 1, "t": 4}
    lines = [
        good,  # 1
        "{not json",  # 2
        '["a list"]',  # 3
        {"a": "1", "v": 1, "t": 4},  # 4 missing question
        {"q": 5, "a": "1", "v": 1, "t": 4},  # 5 bad question
        {"q": "x", "v": 1, "t": 4},  # 6 missing answer
        {"q": "x", "a": {"k": 1}, "v": 1, "t": 4},  # 7 bad answer
        {"q": "x", "a": "1", "t": 4},  # 8 missing value
        {"q": "x", "a": "1", "v": "lots", "t": 4},  # 9 non-numeric value
        {"q": "x", "a": "1", "v": -1, "t": 4},  # 10 negative value
        {"q": "x", "a": "1", "v": 5, "t": 4},  # 11 value above total
        {"q": "x", "a": "1", "v": 1},  # 12 missing total
        {"q": "x", "a": "1", "v": 1, "t": 0},  # 13 zero total
        {"q": "x", "a": "1", "v": 1, "t": -3},  # 14 negative total
        {"q": "x", "a": "", "v": 1, "t": 4},  # 15 empty answer
    ]
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    out, rows, s = run(tmp_path, [path], input_key="q", answer_key="a", value_key="v", total_key="t")
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    got = {r["row"]: r["reason"] for r in rejects}
    assert got == {
        2: R.BAD_JSON,
        3: R.NOT_AN_OBJECT,
        4: R.MISSING_QUESTION,
        5: R.BAD_QUESTION,
        6: R.MISSING_ANSWER,
        7: R.BAD_ANSWER,
        8: R.MISSING_VALUE,
        9: R.BAD_VALUE,
        10: R.NEGATIVE_VALUE,
        11: R.VALUE_ABOVE_TOTAL,
        12: R.MISSING_TOTAL,
        13: R.ZERO_TOTAL,
        14: R.BAD_TOTAL,
        15: R.MISSING_ANSWER,
    }
    assert all(r["file"] == path and r["detail"] for r in rejects)
    assert len(rows) == 1 and s["counts"] == {
        "read": 15,
        "written": 1,
        "rejected": 14,
        "skipped_open_ended": 0,
        "skipped_sample": 0,
        "skipped_limit": 0,
    }
    assert json.load(open(tmp_path / "out.summary.json"))["counts"]["rejected"] == 14


def test_group_rejects_zero_group_total_and_missing_group(tmp_path):
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {"q": "a", "a": "1", "v": 0, "g": "zero"},
            {"q": "b", "a": "1", "v": 0, "g": "zero"},
            {"q": "c", "a": "1", "v": 2, "g": "ok"},
            {"q": "d", "a": "1", "v": 2},
        ],
    )
    _, rows, s = run(tmp_path, [path], input_key="q", answer_key="a", value_key="v", group_key="g")
    assert [r["label"]["value"] for r in rows] == [1.0]
    assert s["rejected_by_reason"] == {R.MISSING_GROUP: 1, R.ZERO_GROUP_TOTAL: 2} and counts_add_up(s)


def test_gaokao_bad_examples_are_rejected(tmp_path):
    doc = {
        "keywords": "2010-2010_Physics_MCQs",
        "example": [
            {"year": "2010", "category": "c", "question": "ok", "answer": ["A"], "score": 6},
            {"year": "2010", "category": "c", "question": "no score", "answer": ["A"]},
            {"year": "2010", "category": "c", "question": "no answer", "answer": [], "score": 6},
            {"year": "2010", "category": "c", "question": "", "answer": ["B"], "score": 6},
            {"year": "2010", "category": "c", "question": "neg", "answer": ["B"], "score": -6},
            "not an object",
        ],
    }
    path = tmp_path / "2010-2010_Physics_MCQs.json"
    path.write_text(json.dumps(doc))
    _, rows, s = run(tmp_path, [path])
    # category "c" is no known paper type: the bench rule, whose paper total still counts the 6 points of the
    # question rejected for its empty text; the other rejects' points are unknown, and the summary says so
    assert len(rows) == 1 and rows[0]["label"]["value"] == 0.5
    assert s["paper_total"]["printed_total_unknown"] == {"Physics 2010 c": 1}
    assert s["groups_with_rejects"] == [
        {"group": "Physics/2010/c", "rejected": 4, "points_known": 1, "points_unknown": 3}
    ]
    rejects = {r["row"]: r["reason"] for r in read_jsonl(tmp_path / "out.rejects.jsonl")}
    assert rejects == {
        2: R.MISSING_VALUE,
        3: R.MISSING_ANSWER,
        4: R.MISSING_QUESTION,
        5: R.NEGATIVE_VALUE,
        6: R.NOT_AN_OBJECT,
    }
    assert counts_add_up(s)


# ---------- selection ----------


def test_sample_is_stratified_deterministic_and_counted(tmp_path):
    rows_in = [{"q": f"q{i}", "a": "1", "v": (i % 4) + 1, "t": 10, "datasource": f"ds{i % 3}"} for i in range(60)]
    path = write_jsonl(tmp_path / "many.jsonl", rows_in)
    keys = dict(input_key="q", answer_key="a", value_key="v", total_key="t")
    _, a, s = run(tmp_path, [path], sample=12, seed=3, **keys)
    _, b, _ = run(tmp_path, [path], name="b.jsonl", sample=12, seed=3, **keys)
    _, c, _ = run(tmp_path, [path], name="c.jsonl", sample=12, seed=4, **keys)
    assert [r["id"] for r in a] == [r["id"] for r in b] != [r["id"] for r in c]
    assert len(a) == 12 and s["counts"]["skipped_sample"] == 48 and counts_add_up(s)
    strata = Counter((r["datasource"], r["label"]["value"]) for r in a)
    assert len(strata) == 12  # 12 strata exist (3 sources x 4 values): one question from each
    _, d, s = run(tmp_path, [path], name="d.jsonl", sample=12, seed=3, limit=5, **keys)
    assert [r["id"] for r in d] == [r["id"] for r in a][:5]
    assert s["counts"]["skipped_limit"] == 7 and counts_add_up(s)


# ---------- CLI ----------


def test_cli_end_to_end_prints_summary(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", [{"query": "1+1?", "label": "2", "score": 1, "total": 4}, "{oops"])
    out = str(tmp_path / "o.parquet")
    assert cli_main([path, "-o", out, "--alpha", "10", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert cli_main([path, "-o", out, "--alpha", "10"]) == 0
    text = capsys.readouterr().out
    assert "read 2 = written 1 + rejected 1" in text and "bad_json 1" in text and "\n    r: 1\n" in text
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pylist()
    assert table[0]["label"] == {
        "answer": ["2"],
        "value": 0.25,
        "verifier": "math",
        "scale": 2.0,
        "answer_format": "strict",
    }
    assert os.path.exists(tmp_path / "o.rejects.jsonl") and os.path.exists(tmp_path / "o.summary.json")


def test_cli_gaokao_flag_defaults_to_bundled(tmp_path, capsys):
    out = str(tmp_path / "gk.jsonl")
    assert cli_main(["--gaokao", "--subjects", "Geography", "-o", out, "--sample", "5", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "skipped by --sample 29" in text and "gaokao/Geography_Open-ended_Questions: 28" in text
    assert len(read_jsonl(out)) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "{out}"], "no input"),
        (["{missing}", "-o", "{out}"], "does not exist"),
        (["{good}", "-o", "{tmp}/x.csv"], ".jsonl or .parquet"),
        (["{good}", "-o", "{out}", "--input-key", "q"], "--answer-key"),
        (["{good}", "-o", "{out}", "--input-key", "q", "--answer-key", "a"], "--value-key"),
        (
            [
                "{good}",
                "-o",
                "{out}",
                "--input-key",
                "q",
                "--answer-key",
                "a",
                "--value-key",
                "v",
                "--total-key",
                "t",
                "--group-key",
                "g",
            ],
            "alternatives",
        ),
        (["{good}", "-o", "{out}", "--scaling", "uniform"], "--uniform-scale"),
        (["{good}", "-o", "{out}", "--alpha", "-1"], "--alpha"),
        (["{good}", "-o", "{out}", "--eval", "--alpha", "10"], "--eval"),
        (["{good}", "-o", "{out}", "--sample", "0"], "--sample"),
        (["{broken}", "-o", "{out}"], "not valid JSON"),
        (["--gaokao", "-o", "{out}", "--subjects", "Astrology"], "no input file matches"),
        (["{good}", "-o", "{out}", "--eval", "--eval-marker", " "], "non-whitespace"),
    ],
)
def test_cli_clear_errors(tmp_path, capsys, args, message):
    good = write_jsonl(tmp_path / "good.jsonl", [{"query": "q", "label": "1", "score": 1, "total": 2}])
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"text": "q"}])
    (tmp_path / "broken.json").write_text("[{")
    fill = dict(
        out=tmp_path / "o.jsonl",
        missing=tmp_path / "nope.jsonl",
        good=good,
        plain=plain,
        broken=tmp_path / "broken.json",
        tmp=tmp_path,
    )
    assert cli_main([a.format(**{k: str(v) for k, v in fill.items()}) for a in args]) == 2
    err = capsys.readouterr().err
    assert "openrlhf-rlev prepare: error:" in err and message in err


def test_bundled_copy_keeps_license_and_attribution():
    names = set(os.listdir(GAOKAO))
    assert {"LICENSE", "README.md", "NOTICE", "Objective_Questions", "Subjective_Questions"} <= names
    assert "Apache License" in open(os.path.join(GAOKAO, "LICENSE")).read()
    assert "OpenLMLab/GAOKAO-Bench" in open(os.path.join(GAOKAO, "README.md")).read()
    assert len(os.listdir(os.path.join(GAOKAO, "Objective_Questions"))) == 14
    assert len(os.listdir(os.path.join(GAOKAO, "Subjective_Questions"))) == 18
    # inside the package (shipped as package data), not a path on this machine
    assert os.path.dirname(os.path.dirname(GAOKAO)) == os.path.dirname(os.path.abspath(openrlhf_rlev.__file__))
