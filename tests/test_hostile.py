"""Hostile input, property-based: whatever the bytes, prepare, eval, the server and the reward give a documented
outcome, never a traceback; inputs are never modified; counts add up; every reject keeps its row. (The label
parser's own properties are in test_labels_scaling.)"""

import json
import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_rlev.cli.eval import main as eval_main
from openrlhf_rlev.cli.prepare import main as prepare_main
from openrlhf_rlev.evaluation.evaluate import evaluate
from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.integrations.openrlhf.server import BadRequest, parse_body
from openrlhf_rlev.reward import reasons

# ---- strategies ----

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=[]), max_size=4),  # lone surrogates too
    st.sampled_from(["", " ", "A", "AC", "42", "1/2", "0.5", "1e400", "-1", "nan", "\ud800", "{", '{"answer": ']),
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
# Rows near the schemas prepare reads, so that many get past the first check and hit the later ones.
keys = st.sampled_from(
    ["query", "label", "score", "total", "q", "a", "v", "g", "datasource", "answer", "value", "response", "n_tokens"]
)
near_rows = st.dictionaries(keys, json_values, max_size=6)
good_rows = st.fixed_dictionaries(
    {
        "query": st.text(min_size=1, max_size=30),
        "label": st.sampled_from(["2", "A", ["A", "C"], "x+1"]),
        "score": st.integers(0, 10),
        "total": st.integers(1, 20),
    }
)


def jsonl_line(x) -> bytes:
    if isinstance(x, bytes):
        return x
    text = json.dumps(x, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: as a JSON escape, which parses back into one
        return json.dumps(x).encode()


lines = st.lists(
    st.one_of(good_rows, near_rows, json_values, st.binary(max_size=30), st.just(b""), st.just(b"{oops")),
    max_size=12,
)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- prepare ----


def check_prepare_run(folder: str, src: str, argv: list[str]) -> None:
    before = open(src, "rb").read()
    out = os.path.join(folder, "out.jsonl")
    code = prepare_main([src, "-o", out, "--quiet", *argv])
    assert open(src, "rb").read() == before, "the input was modified"
    if code in (
        1,
        2,
    ):  # nothing usable (1), or a file prepare cannot read at all, e.g. BOM-less UTF-16 (2): nothing written
        assert sorted(os.listdir(folder)) == [os.path.basename(src)]
        return
    assert code == 0
    summary = json.load(open(os.path.join(folder, "out.summary.json")))
    c = summary["counts"]
    skipped = c["skipped_open_ended"] + c["skipped_sample"] + c["skipped_limit"]
    assert c["read"] == c["written"] + c["rejected"] + skipped
    rows = read_jsonl(out)
    rejects = read_jsonl(os.path.join(folder, "out.rejects.jsonl"))
    assert len(rows) == c["written"] > 0 and len(rejects) == c["rejected"]
    assert all(r["reason"] and r["row"] >= 1 and "raw" in r for r in rejects)
    for row in rows:
        assert 0 <= row["label"]["value"] <= 1 and row["label"]["answer"]
    written_rows = {int(r["id"].rsplit(":", 1)[1]) for r in rows}
    assert written_rows.isdisjoint(r["row"] for r in rejects)


@settings(max_examples=60)
@given(lines=lines)
def test_prepare_jsonl_any_lines(lines):
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "in.jsonl")
        with open(src, "wb") as f:
            f.write(b"\n".join(jsonl_line(x) for x in lines) + b"\n")
        check_prepare_run(folder, src, [])


@settings(max_examples=40)
@given(rows=st.lists(near_rows | good_rows, min_size=1, max_size=8))
def test_prepare_generic_group_keys_any_rows(rows):
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "in.jsonl")
        with open(src, "wb") as f:
            f.write(b"\n".join(jsonl_line(x) for x in rows) + b"\n")
        check_prepare_run(
            folder, src, ["--input-key", "q", "--answer-key", "a", "--value-key", "v", "--group-key", "g"]
        )


gaokao_examples = st.fixed_dictionaries(
    {},
    optional={
        "year": st.sampled_from(["2010", "2021", ""]) | json_values,
        "category": st.sampled_from(["（新课标Ⅰ）", "（解析版）", "x"]) | json_values,
        "question": st.text(max_size=10) | json_values,
        "answer": st.sampled_from([["A"], ["A", "C"], "B", "x+1", []]) | json_values,
        "score": st.integers(0, 10) | json_values,
    },
)
json_documents = st.one_of(
    json_values,
    st.lists(near_rows | good_rows, max_size=6),
    st.fixed_dictionaries(
        {
            "keywords": st.sampled_from(["2010-2022_Physics_MCQs", "Math_I_Fill-in-the-Blank", "x"]) | json_values,
            "example": st.lists(gaokao_examples | json_values, max_size=6),
        }  # fmt: skip
    ),
)


@settings(max_examples=60)
@given(doc=json_documents, paper_total=st.sampled_from(["printed", "bench"]))
def test_prepare_json_any_document(doc, paper_total):
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "in.json")
        with open(src, "wb") as f:
            f.write(jsonl_line(doc))
        check_prepare_run(folder, src, ["--paper-total", paper_total, "--include-open-ended"])


csv_cells = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10) | st.sampled_from(
    ["1", "0.5", HUGE := "9" * 400, "", "A", '"', "a,b", "x\ny"]
)


@settings(max_examples=40)
@given(
    rows=st.lists(st.lists(csv_cells, min_size=0, max_size=5), max_size=8),
    junk=st.binary(max_size=8),
)
def test_prepare_csv_any_rows(rows, junk):
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([["q", "a", "v"], *rows])
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "in.csv")
        with open(src, "wb") as f:
            f.write(buf.getvalue().encode() + junk)
        check_prepare_run(folder, src, ["--input-key", "q", "--answer-key", "a", "--value-key", "v"])


# ---- eval ----


eval_rows = st.fixed_dictionaries(
    {"response": st.text(max_size=20), "label": json_values},
    optional={"datasource": json_values, "n_tokens": json_values, "id": json_values, "prompt": json_values},
)


@settings(max_examples=40)
@given(lines=st.lists(st.one_of(eval_rows, json_values, near_rows, st.binary(max_size=20)), max_size=8))
def test_eval_any_rows(lines):
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "p.jsonl")
        with open(src, "wb") as f:
            f.write(b"\n".join(jsonl_line(x) for x in lines) + b"\n")
        before = open(src, "rb").read()
        m = evaluate(src, progress=False)
        assert m.metrics["n_rows_read"] == m.metrics["n_scored"] + m.metrics["n_rejected"]
        assert all(r["raw"] and r["reason"] for r in m.rejects)
        assert eval_main([src, "--no-plots", "--quiet"]) == (0 if m.metrics["n"] else 1)
        assert open(src, "rb").read() == before
        metrics = json.load(open(os.path.join(folder, "p.eval.json")))
        assert metrics["n_rejected"] == m.metrics["n_rejected"]


# ---- the server's bodies and the reward's labels ----


@settings(max_examples=200)
@given(
    body=json_values | st.binary(max_size=40) | st.fixed_dictionaries({"query": json_values, "labels": json_values})
)
def test_server_bodies_are_parsed_or_a_4xx(body):
    raw = body if isinstance(body, bytes) else jsonl_line(body)
    try:
        queries, prompts, labels = parse_body(raw)
    except BadRequest as e:
        assert e.status in (400, 413, 422) and str(e)
        return
    assert len(queries) == len(prompts) == len(labels)


@settings(max_examples=40)
@given(label=json_values, response=st.text(max_size=40))
def test_reward_func_always_returns_every_key(label, response):
    out = reward_func([response], [""], [label])
    assert out["rewards"] >= 0 and out["scores"] in (0.0, 1.0)
    assert {f"rlev/fail_{r}" for r in reasons.FAILURES} <= set(out["extra_logs"])
    assert out["extra_logs"]["rlev/fail_internal_error"] == 0.0
