"""`openrlhf-rlev demo`: GAOKAO-Bench values, SmolLM2 answers, OpenRLHF's reward path, RLEV metrics, on a CPU."""

import argparse
import sys

from openrlhf_rlev.evaluation import demo


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openrlhf-rlev demo", description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default=demo.DEFAULT_OUT, help=f"output folder (default ./{demo.DEFAULT_OUT})")
    p.add_argument("--sample", type=int, default=demo.DEFAULT_SAMPLE, help="GAOKAO-Bench questions to sample")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="only the first N rows of the dataset (as in prepare and generate); for a quick look that still mixes "
        "subjects and values, use --sample N",
    )
    p.add_argument("--max-new-tokens", type=int, default=demo.DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--batch-size", type=int, default=demo.DEFAULT_BATCH_SIZE)
    p.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=demo.DEFAULT_MAX_PROMPT_TOKENS,
        help="skip (and record) questions whose prompt is longer; 0 = keep all",
    )
    p.add_argument("--data", help="use this prepared dataset instead of sampling GAOKAO-Bench")
    p.add_argument("--model", default="smollm2", help="'smollm2' (default), a .gguf file or a HF folder")
    p.add_argument("--k", type=int, help="prompts per group in the P(EOS) curves (default 20%% of prompts)")
    p.add_argument("--threads", default="auto", help="torch CPU threads (default auto: the cores not already busy)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = demo.DemoConfig(
        out=args.out,
        sample=args.sample,
        seed=args.seed,
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        max_prompt_tokens=args.max_prompt_tokens or None,
        data=args.data,
        model=args.model,
        k=args.k,
        threads=args.threads,
        progress=not args.quiet,
    )
    from openrlhf_rlev.evaluation.datafiles import DataError
    from openrlhf_rlev.evaluation.model_loading import ModelNotAvailable

    try:
        summary = demo.run_demo(cfg)
    except (demo.DemoError, DataError, ModelNotAvailable, ValueError) as e:
        print(f"openrlhf-rlev demo: {e}", file=sys.stderr)
        return 2
    print()
    print(summary["table"])
    print()
    print(f"scored by: {summary['scoring_path']}")
    print(f"  reward file: {summary['reward_file']}")
    print(
        f"  mean reward r = s(x) * 1[correct]: {summary['mean_reward']:.4f}; "
        f"disagreements with the eval's scoring: {summary['reward_vs_eval_disagreements']}"
    )
    gen = summary["generation"]
    if gen["skipped"]:
        print(f"  {gen['skipped']} questions skipped before generation (reasons: {gen['skipped_file']})")
    print(f"time{' (of the run that wrote these outputs)' if summary.get('reused') else ''}: {summary['timings_s']}")
    print(f"outputs in {args.out}/:")
    for what, path in summary["outputs"].items():
        print(f"  {what:<17} {path}")
    return 0
