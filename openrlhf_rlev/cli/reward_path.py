"""`openrlhf-rlev reward-path`: the file to give OpenRLHF as --reward.remote_url."""

import argparse

from openrlhf_rlev import REWARD_FUNC_PATH


def main(argv=None) -> int:
    argparse.ArgumentParser(prog="openrlhf-rlev reward-path", description=__doc__).parse_args(argv)
    print(REWARD_FUNC_PATH)
    return 0
