"""Eval rows that make OpenRLHF's own eval report Acc and H-Acc (`prepare --eval`).

OpenRLHF (0.10.2-0.11.x; `trainer/ppo_trainer.py`, `compute_eval_metrics`) logs, per datasource ds,

    eval_<ds>_pass1 = mean over the ds prompts of (mean reward of the prompt's samples)

and our reward is scale * 1[correct]. So each question is written twice:

    datasource "<ds>/acc"    label scale 1              -> eval_<ds>/acc_pass1   = mean(c_i)                 = Acc
    datasource "<ds>/h_acc"  label scale v_i / mean(v)  -> eval_<ds>/h_acc_pass1 = sum(v_i c_i) / sum(v_i)   = H-Acc

with mean(v) over the questions of ds (or over all questions with scope "all", datasource "all/..."). A label's
`scale` takes precedence over RLEV_SCALING/alpha, and eval rewards are not clipped (--reward.clip_range applies to
training rewards only), so scales above 2 are exact.

Why the H-Acc copy's prompt differs: compute_eval_metrics finds a sample's datasource by its prompt *text*
(`prompt_to_datasource[prompt]`), so two identical prompts would both count under whichever row came last. The
H-Acc copy's last user message therefore ends with a marker, by default U+200B (zero width space): invisible, and
not whitespace, so chat templates that `trim` content keep it. The two copies are generated separately; with
sampling (temperature > 0) Acc and H-Acc are estimated from different samples of the same questions. Eval costs
two generations per question. For the same reason a question whose prompt is identical to one in another
datasource (GAOKAO-Bench has a few shared by Math_I and Math_II) is rejected as `duplicate_prompt`.
"""

import json
from collections import defaultdict

ACC = "acc"
H_ACC = "h_acc"
SCOPES = ("datasource", "all")
DEFAULT_MARKER = "\u200b"


def check_marker(marker: str) -> str:
    if not marker or not marker.strip():
        raise ValueError("--eval-marker must contain a non-whitespace character (chat templates may trim whitespace)")
    return marker


def eval_rows(
    rows: list[dict], scope: str = "datasource", marker: str = DEFAULT_MARKER
) -> tuple[list[dict], list[str]]:
    """Each row -> its Acc copy and its H-Acc copy. Returns (rows, datasources whose values are all 0, for which
    H-Acc is undefined and no H-Acc copies are written)."""
    if scope not in SCOPES:
        raise ValueError(f"--eval-scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    check_marker(marker)
    groups: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        groups[_base(row, scope)].append(row["label"]["value"])
    means = {ds: sum(vs) / len(vs) for ds, vs in groups.items()}
    out = []
    for row in rows:
        ds = _base(row, scope)
        out.append(_copy(row, f"{ds}/{ACC}", 1.0, ""))
        if means[ds] > 0:
            out.append(_copy(row, f"{ds}/{H_ACC}", row["label"]["value"] / means[ds], marker))
    return out, sorted(ds for ds, m in means.items() if m <= 0)


def cross_datasource_duplicates(rows: list[dict], scope: str = "datasource") -> dict[int, str]:
    """Index of each row whose prompt already appeared under another datasource -> the first row's id and datasource."""
    first: dict[str, tuple[str, str]] = {}
    dups = {}
    for i, row in enumerate(rows):
        key = json.dumps(row["prompt"], ensure_ascii=False, sort_keys=True)
        ds = _base(row, scope)
        if key not in first:
            first[key] = (row["id"], ds)
        elif first[key][1] != ds:
            dups[i] = f"same prompt as {first[key][0]} in datasource {first[key][1]!r}"
    return dups


def _base(row: dict, scope: str) -> str:
    return row["datasource"] if scope == "datasource" else "all"


def _copy(row: dict, datasource: str, scale: float, marker: str) -> dict:
    prompt = [dict(m) for m in row["prompt"]]
    if marker:
        last_user = max(i for i, m in enumerate(prompt) if m["role"] == "user")
        prompt[last_user]["content"] += marker
    return {
        **row,
        "prompt": prompt,
        "label": {**row["label"], "scale": scale},
        "datasource": datasource,
        "id": f"{row['id']}#{datasource.rsplit('/', 1)[1]}",
    }
