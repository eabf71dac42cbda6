"""`openrlhf-rlev prepare INPUT... -o OUTPUT`: an OpenRLHF prompt dataset whose labels carry each question's value.

Train with: --data.prompt_dataset OUTPUT --data.input_key prompt --data.label_key label --data.apply_chat_template

Exit codes: 0 written; 1 no usable row (nothing written); 2 unusable arguments or input files (nothing written).
Inputs are never written over: an output that is an input is refused, and a directory input skips this run's
own outputs.
"""

import argparse
import sys

from openrlhf_rlev.prepare import NothingWritten, PrepareError, PrepareOptions, prepare
from openrlhf_rlev.prepare.gaokao import bundled_dir
from openrlhf_rlev.prepare.summary import format_text
from openrlhf_rlev.prepare.writer import summary_path
from openrlhf_rlev.verifiers import choices as verifier_choices

BUNDLED = "bundled"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openrlhf-rlev prepare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="files (.jsonl .json .csv .parquet) or directories of them"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="OUTPUT.jsonl or OUTPUT.parquet; also writes OUTPUT.rejects.jsonl and OUTPUT.summary.json",
    )
    p.add_argument(
        "--format",
        dest="fmt",
        default="auto",
        choices=["auto", "gaokao", "rlev", "generic"],
        help="input schema (default: detect per file)",
    )
    p.add_argument(
        "--output-format",
        default="openrlhf",
        choices=["openrlhf", "verl"],
        help="openrlhf (default): prompt + label, read as is by OpenRLHF and TRL; verl: verl's RL dataset schema "
        "(data_source, prompt, ability, reward_model.ground_truth, extra_info with value and label)",
    )

    g = p.add_argument_group("GAOKAO-Bench")
    g.add_argument(
        "--gaokao",
        nargs="?",
        const=BUNDLED,
        metavar="PATH",
        help="read GAOKAO-Bench JSON (a file or directory); without PATH the bundled copy",
    )
    g.add_argument(
        "--subjects",
        help="comma-separated subjects to keep, e.g. Math_I,Physics (paper totals still use all files of a subject)",
    )
    g.add_argument(
        "--include-open-ended",
        action="store_true",
        help="keep open-ended (essay) questions, graded by the judge verifier (default: skip and count)",
    )
    g.add_argument(
        "--paper-total",
        default="printed",
        choices=["printed", "bench"],
        help="v = points / the exam paper's printed total (default; 150 or 300, see prepare/gaokao.py) or / the "
        "paper's points present in the bench",
    )
    g.add_argument("--total", type=float, help="a fixed exam total (e.g. 150) for every question")

    g = p.add_argument_group("generic rows (RLEV release rows need none of these: query, label, score, total)")
    g.add_argument("--input-key", help="question column: a string or chat messages")
    g.add_argument("--answer-key", help="answer column: a string or a list of parts")
    g.add_argument("--value-key", help="points column; v = points / total (or / group sum, or points if neither)")
    g.add_argument("--total-key", help="total points column: v = value / total")
    g.add_argument("--group-key", help="group column: v = value / sum of the group's values")
    g.add_argument("--datasource", help="datasource name for every row (default: a row's datasource, else file name)")
    g.add_argument(
        "--verifier",
        default="auto",
        choices=verifier_choices(),
        help="verifier written in labels (default: choice for option letters, else math)",
    )

    g = p.add_argument_group("values")
    g.add_argument("--difficulty-key", help="weak labels: v from this column's difficulty tier")
    g.add_argument(
        "--difficulty-map",
        help="JSON tier -> points (/100), inline or a file; default the paper's "
        '{"PRIMARY": 1, "JUNIOR HIGH": 2, "SENIOR HIGH": 4, "UNIVERSITY": 6, "PHD": 8}',
    )
    g.add_argument("--shuffle-values", type=int, metavar="SEED", help="permute values across written rows (ablation)")
    g.add_argument("--alpha", type=float, help="precompute label 'scale' with this alpha")
    g.add_argument(
        "--scaling",
        choices=["rlev", "multiplicative", "uniform", "none"],
        help="precompute label 'scale' with this scaling (default rlev)",
    )
    g.add_argument("--uniform-scale", type=float, help="the constant scale of --scaling uniform")

    g = p.add_argument_group("selection and output")
    g.add_argument("--sample", type=int, metavar="N", help="N questions, stratified by datasource and value")
    g.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    g.add_argument("--limit", type=int, metavar="N", help="only the first N rows (after --sample)")
    g.add_argument(
        "--no-instruction",
        dest="instruction",
        action="store_false",
        help="do not append the how-to-answer instruction to the question",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar, no summary text")

    g = p.add_argument_group("eval (OpenRLHF's eval_<ds>_pass1 becomes Acc and H-Acc)")
    g.add_argument(
        "--eval",
        action="store_true",
        help="write each question twice: datasource <ds>/acc (scale 1) and <ds>/h_acc (scale v/mean v)",
    )
    g.add_argument(
        "--eval-scope",
        default="datasource",
        choices=["datasource", "all"],
        help="H-Acc per datasource (default) or over all questions (datasource all/...)",
    )
    g.add_argument(
        "--eval-marker",
        default="\u200b",
        help="suffix that keeps the H-Acc copy's prompt distinct (default U+200B zero width space)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    inputs = list(args.inputs)
    fmt = args.fmt
    if args.gaokao is not None:
        inputs.append(bundled_dir() if args.gaokao == BUNDLED else args.gaokao)
        fmt = "gaokao" if not args.inputs and fmt == "auto" else fmt
    opts = PrepareOptions(
        inputs=inputs,
        output=args.output,
        fmt=fmt,
        input_key=args.input_key,
        answer_key=args.answer_key,
        value_key=args.value_key,
        total_key=args.total_key,
        group_key=args.group_key,
        total=args.total,
        difficulty_key=args.difficulty_key,
        difficulty_map=args.difficulty_map,
        datasource=args.datasource,
        verifier=args.verifier,
        subjects=[s.strip() for s in args.subjects.split(",") if s.strip()] if args.subjects else None,
        include_open_ended=args.include_open_ended,
        instruction=args.instruction,
        shuffle_values=args.shuffle_values,
        alpha=args.alpha,
        scaling=args.scaling,
        uniform_scale=args.uniform_scale,
        sample=args.sample,
        seed=args.seed,
        limit=args.limit,
        eval=args.eval,
        eval_scope=args.eval_scope,
        eval_marker=args.eval_marker,
        paper_total=args.paper_total,
        progress=not args.quiet,
        output_format=args.output_format,
    )
    try:
        result = prepare(opts)
    except NothingWritten as e:
        print(f"openrlhf-rlev prepare: error: {e}", file=sys.stderr)
        return 1
    except PrepareError as e:
        print(f"openrlhf-rlev prepare: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\nopenrlhf-rlev prepare: interrupted; nothing written ({opts.output} and its rejects and summary "
            "files are as they were)",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        print(format_text(result))
        print(f"  rejects: {result['rejects_file']}  summary: {summary_path(opts.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
