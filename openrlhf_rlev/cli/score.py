"""`openrlhf-rlev score RESPONSE LABEL`: one verdict, as JSON, with the settings from RLEV_* env vars."""

import argparse
import dataclasses
import json

from openrlhf_rlev.reward.core import score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="openrlhf-rlev score", description=__doc__)
    parser.add_argument("response", help="the model's response text")
    parser.add_argument("label", help='a label: JSON object {"answer": ..., "value": ...} or a plain answer')
    args = parser.parse_args(argv)
    print(json.dumps(dataclasses.asdict(score(args.response, args.label)), ensure_ascii=False))
    return 0
