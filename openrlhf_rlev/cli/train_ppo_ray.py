"""OpenRLHF's train_ppo_ray with `--reward_func NAME` and `--rlev.*` settings.

    python -m openrlhf_rlev.cli.train_ppo_ray <OpenRLHF train_ppo_ray flags> --reward_func rlev [--rlev.*]
    openrlhf-rlev train <same>
    openrlhf-rlev train --rlev.cpu <same>      # on this machine's CPU (openrlhf_rlev/integrations/openrlhf/cpu)

Runs OpenRLHF's own, unmodified train_ppo_ray with `--reward.remote_url` set to the reward func's file, after
starting Ray with the RLEV settings and setup hook in its runtime env (see openrlhf_rlev.integrations.openrlhf.launcher).
"""

import sys

from openrlhf_rlev.integrations.openrlhf.launcher import (
    OPTION_METAVARS,
    OPTIONS,
    REWARD_FUNC_FLAG,
    SWITCHES,
    LaunchError,
    run,
    setting_flags,
)
from openrlhf_rlev.reward.settings import PARSERS, Settings

PROG = "openrlhf-rlev train"  # as the other commands name themselves; `python -m` runs the same main


def _row(flag: str, help_: str) -> str:
    return f"  {flag:<36} {help_}"


def usage() -> str:
    defaults = Settings()
    lines = [
        f"usage: {PROG} [OpenRLHF train_ppo_ray flags] {REWARD_FUNC_FLAG} NAME [--rlev.SETTING VALUE ...]",
        "",
        __doc__.strip().splitlines()[0],
        "",
        "RLEV flags (everything else goes to OpenRLHF unchanged):",
        _row(f"{REWARD_FUNC_FLAG} NAME", "reward func from the 'openrlhf.reward_funcs' entry points (rlev)"),
    ]
    for flag, name in zip(setting_flags(), PARSERS):
        default = getattr(defaults, name, None)
        lines.append(_row(f"{flag} VALUE", f"default {default!r} (env RLEV_{name.upper()})"))
    for name, help_ in OPTIONS.items():
        lines.append(_row(f"--rlev.{name} {OPTION_METAVARS.get(name, 'PATH')}", help_))
    for name, help_ in SWITCHES.items():
        lines.append(_row(f"--rlev.{name}", help_))
    lines += ["", "OpenRLHF's own flags follow.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        print(usage())
        from openrlhf_rlev.integrations.openrlhf import train_entry

        try:
            train_entry.parse(["--help"], allow_missing_imports=True)
        except SystemExit:
            pass
        return 0
    try:
        return run(argv)
    except LaunchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
