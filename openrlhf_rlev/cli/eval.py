"""`openrlhf-rlev eval PREDICTIONS`: Acc, H-Acc, mean length, value density, top/bottom-20% accuracy, plots.

Exit codes: 0 scored (rejected rows, if any, are counted and warned about); 1 no row could be scored;
2 unusable arguments or files."""

import argparse
import sys

from openrlhf_rlev.evaluation import evaluate


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openrlhf-rlev eval", description=evaluate.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("predictions", help="JSONL rows with 'response' and 'label' (or 'index'/'id' with --data)")
    p.add_argument("--data", help="prepared dataset (JSONL) to join labels from, by 'index' then 'id'")
    p.add_argument(
        "--tokenizer",
        help="measure length in this tokenizer's tokens: a HF folder, a .gguf file, or "
        "'smollm2' (default: the rows' n_tokens if all have it, else characters)",
    )
    p.add_argument(
        "--partial-credit",
        action="store_true",
        help="GAOKAO-Bench per-entry credit for choice labels (default: all-or-nothing, like the reward)",
    )
    p.add_argument("-o", "--output", help="metrics JSON (default: PREDICTIONS stem + .eval.json)")
    p.add_argument("--plots-dir", help="where to write the PNGs (default: next to the metrics JSON)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    tokenizer = None
    if args.tokenizer:
        from openrlhf_rlev.evaluation.model_loading import ModelNotAvailable, load_tokenizer

        try:
            tokenizer = load_tokenizer(args.tokenizer)
        except ModelNotAvailable as e:
            print(f"openrlhf-rlev eval: {e}", file=sys.stderr)
            return 2
    try:
        result = evaluate.evaluate(
            args.predictions,
            data=args.data,
            tokenizer=tokenizer,
            tokenizer_name=args.tokenizer,
            partial_credit=args.partial_credit,
            progress=not args.quiet,
        )
    except (OSError, ValueError) as e:
        print(f"openrlhf-rlev eval: {e}", file=sys.stderr)
        return 2
    paths = evaluate.output_paths(args.predictions, args.output, args.plots_dir)
    written = evaluate.write_outputs(result, paths, plots=not args.no_plots)
    print(evaluate.markdown_table(result.metrics))
    print()
    for what, path in written.items():
        print(f"{what}: {path}")
    m = result.metrics
    if m["n_rejected"]:
        print(
            f"openrlhf-rlev eval: WARNING: {m['n_rejected']} of {m['n_rows_read']} rows rejected, not scored"
            f" (each with its line and reason in {written['rejects']}); first: line {result.rejects[0]['line']}:"
            f" {result.rejects[0]['reason']}",
            file=sys.stderr,
        )
    if m["n"] == 0:
        why = "the file has no rows" if not m["n_rows_read"] else "every row was rejected"
        print(f"openrlhf-rlev eval: error: no row could be scored: {why}", file=sys.stderr)
        return 1
    return 0
