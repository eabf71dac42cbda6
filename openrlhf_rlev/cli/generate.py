"""`openrlhf-rlev generate --model M --data D -o PRED.jsonl`: predictions to evaluate, resumable."""

import argparse
import sys

from openrlhf_rlev.evaluation import generate as gen


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openrlhf-rlev generate", description=gen.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", required=True, help="HF model folder, a .gguf file, or 'smollm2' (the demo model)")
    p.add_argument("--data", required=True, help="prepared dataset (JSONL), e.g. from `openrlhf-rlev prepare`")
    p.add_argument("-o", "--output", required=True, help="predictions JSONL (appended to; rerun to resume)")
    p.add_argument(
        "--backend",
        choices=["auto", "vllm", "transformers"],
        default="auto",
        help="auto: vLLM when installed and a GPU is visible, else transformers",
    )
    p.add_argument("--max-new-tokens", type=int, default=gen.DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--batch-size", type=int, help="prompts per generate call (default 8; 512 with vLLM)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default, the paper's eval)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--n-samples", type=int, default=1, help="responses per prompt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-key", default="prompt")
    p.add_argument("--label-key", default="label")
    p.add_argument(
        "--no-chat-template",
        dest="chat_template",
        action="store_false",
        help="feed string prompts as they are (default: the tokenizer's chat template, as OpenRLHF's "
        "--data.apply_chat_template)",
    )
    p.add_argument("--max-prompt-tokens", type=int, help="skip (and record) prompts longer than this")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows of --data")
    p.add_argument("--threads", default="auto", help="torch CPU threads (default auto: the cores not already busy)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("max_new_tokens", "batch_size", "n_samples"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            print(f"openrlhf-rlev generate: --{name.replace('_', '-')} must be >= 1", file=sys.stderr)
            return 2
    from openrlhf_rlev.evaluation.model_loading import (
        ModelNotAvailable,
        configure_threads,
        load_model,
        load_tokenizer,
        resolve,
    )

    use_vllm = args.backend == "vllm" or (args.backend == "auto" and gen.vllm_usable())
    cfg = gen.GenConfig(
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size or (512 if use_vllm else 8),
        temperature=args.temperature,
        top_p=args.top_p,
        n_samples=args.n_samples,
        input_key=args.input_key,
        label_key=args.label_key,
        chat_template=args.chat_template,
        max_prompt_tokens=args.max_prompt_tokens,
        seed=args.seed,
    )
    try:
        configure_threads(args.threads)
        if use_vllm:
            folder, gguf = resolve(args.model)
            tokenizer = load_tokenizer(args.model)
            backend = gen.VLLMBackend(f"{folder}/{gguf}" if gguf else folder, seed=args.seed)
        else:
            model, tokenizer = load_model(args.model)
            backend = gen.TransformersBackend(model, tokenizer)
        print(f"backend: {'vllm' if use_vllm else 'transformers'}", file=sys.stderr)
        stats = gen.generate_file(args.data, args.output, backend, tokenizer, cfg, args.limit, not args.quiet)
    except (ModelNotAvailable, gen.DataError, ImportError, ValueError) as e:
        print(f"openrlhf-rlev generate: {e}", file=sys.stderr)
        return 2
    print(f"wrote {stats['written']} responses to {stats['output']} ({stats['already_done']} were already there)")
    if stats["skipped"]:
        print(f"skipped {stats['skipped']} data rows, reasons in {stats['skipped_file']}")
    return 0
