"""`openrlhf-rlev <command> ...`: each command is a module in this package with `main(argv) -> int`."""

import importlib
import sys

from openrlhf_rlev import __version__

# name -> (module under openrlhf_rlev.cli, one-line help)
COMMANDS = {
    "prepare": ("prepare", "write an OpenRLHF-ready dataset with value labels (GAOKAO-Bench, RLEV release, generic)"),
    "reward-path": ("reward_path", "print the reward file to pass as --reward.remote_url"),
    "score": ("score", "score one response against one label and print the verdict"),
    "train": ("train_ppo_ray", "run OpenRLHF's train_ppo_ray with --reward_func rlev and --rlev.* settings"),
    "serve": ("serve", "serve the reward over HTTP (OpenRLHF's remote reward protocol)"),
    "generate": ("generate", "generate predictions from a model on a prepared dataset"),
    "eval": ("eval", "Acc, H-Acc, length and value density of a predictions file, with plots"),
    "termination": ("termination", "P(EOS) by response position for top/bottom prompts by value (paper Fig. 2)"),
    "demo": ("demo", "end to end on CPU: prepare GAOKAO-Bench, generate with SmolLM2, score, evaluate"),
}


def usage() -> str:
    lines = ["usage: openrlhf-rlev [--version] <command> [args]", "", "commands:"]
    lines += [f"  {name:<13} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`openrlhf-rlev <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"openrlhf-rlev {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"openrlhf-rlev: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"openrlhf_rlev.cli.{COMMANDS[name][0]}")
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
