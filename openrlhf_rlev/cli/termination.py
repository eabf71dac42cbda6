"""`openrlhf-rlev termination --model M --predictions P`: P(EOS) curves, top vs bottom prompts by value."""

import argparse
import os
import sys

from openrlhf_rlev.evaluation import termination


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openrlhf-rlev termination",
        description=termination.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="HF model folder, a .gguf file, or 'smollm2'")
    p.add_argument("--predictions", required=True, help="predictions JSONL (from `openrlhf-rlev generate`)")
    p.add_argument("--data", help="prepared dataset to join prompts/labels from, by 'index' then 'id'")
    p.add_argument("--k", type=int, help="prompts per group (default: 20%% of prompts; the paper used 200)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-positions", type=int, help="truncate curves at this many positions")
    p.add_argument("--no-chat-template", dest="chat_template", action="store_false")
    p.add_argument("--name", help="this checkpoint's name in the legend (default: --model)")
    p.add_argument("-o", "--output", help="curves JSON (default: PREDICTIONS stem + .termination.json)")
    p.add_argument("--plot", help="PNG (default: the JSON path with .png)")
    p.add_argument("--compare", help="another checkpoint's curves JSON to overlay (dashed), e.g. the baseline's")
    p.add_argument("--threads", default="auto", help="torch CPU threads (default auto: the cores not already busy)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = args.output or os.path.splitext(args.predictions)[0] + ".termination.json"
    plot = args.plot or os.path.splitext(out)[0] + ".png"
    from openrlhf_rlev.evaluation.model_loading import ModelNotAvailable, configure_threads, load_model

    try:
        configure_threads(args.threads)
        compare = termination.load_curves(args.compare) if args.compare else None
        model, tokenizer = load_model(args.model)
        result = termination.termination_curves(
            model,
            tokenizer,
            args.predictions,
            data=args.data,
            k=args.k,
            batch_size=args.batch_size,
            max_positions=args.max_positions,
            chat_template=args.chat_template,
            model_name=args.name or args.model,
            progress=not args.quiet,
        )
    except (ModelNotAvailable, OSError, ValueError) as e:
        print(f"openrlhf-rlev termination: {e}", file=sys.stderr)
        return 2
    if not result["top"]["p_eos"]:
        print("openrlhf-rlev termination: fewer than 2 prompts with a value; nothing to compare", file=sys.stderr)
        return 1
    written = termination.write_curves(result, out, plot, compare)
    for name in ("top", "bottom"):
        g = result[name]
        print(
            f"{name}-{result['k']}: v {g['value_min']:.3g}–{g['value_max']:.3g}, {g['n_responses']} responses, "
            f"mean {g['mean_response_tokens']:.1f} tokens"
        )
    for what, path in written.items():
        print(f"{what}: {path}")
    return 0
