"""Stage A: a tiny Llama with SmolLM2's tokenizer and chat template, supervised on synthetic transcripts.

The point of Stage A is the mechanism, not the model: a policy small enough that 5+ seeds of every arm fit on a CPU,
whose base behaviour is set by construction instead of inherited from pre-training.

Skills (both are position copies the model learns in ~150 right-only steps; "hard" means rarely right):
- `copy` (easy): "Repeat the number: 47" -> 47; the transcripts give the right answer with P_CORRECT["copy"].
- `reverse` (hard): "Write backwards: 47" -> 74; right with P_CORRECT["reverse"].
A wrong transcript answer is another 2-digit number, drawn uniformly. Two phases: the first --clean-steps use only
right answers (the skills are learned), the rest use the noisy ones, so the supervised model samples (at
temperature 1) the right answer about as often as those transcripts did: base accuracy is set by P_CORRECT, and RL
has something to learn (moving mass onto an answer the model already ranks first).

Stopping is a choice: after the answer line `Answer: N` a transcript ends (P_STOP), adds a neutral sentence
(P_FILLER), or re-checks and gives a second `Answer: M` line (the rest), right with the skill's P_CORRECT. A
revision's last marker decides the verdict, so going on after a right answer risks it and after a wrong one may
fix it: P(EOS right after the answer) is a behaviour with a reward consequence, the one Eq. 13 of the paper is
about.

Values: v = 0.18 (s = 2 at alpha 10) or 0.02 (s = 1.2), as 5 x 18 + 5 x 2 = 100 exam points.
- variant `content`: v tied to the skill (reverse 0.18, copy 0.02); the prompt shows no points.
- variant `shown`: v drawn independently of the skill and shown in the prompt ("[18 points] ...").
The transcripts are the same behaviour whatever the points (half of them carry a random points tag), so the base
model's behaviour does not depend on value in either variant.

    python benchmarks/train_cpu/stage_a/make_tiny.py            # model/ (not committed), data/, base_check.json

Deterministic for a given --seed (data, initial weights, batch order; torch runs single-threaded).
"""

import argparse
import json
import math
import os
import random
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKILLS = ("copy", "reverse")
P_CORRECT = {"copy": 0.65, "reverse": 0.35}  # pilot 4 (pilot 3: 0.55 / 0.25 gave 27%, PREREG.md)
P_STOP, P_FILLER = 0.5, 0.3  # else (0.2) a re-check with a second answer line
FILLERS = ("I hope this helps.", "Let me know if you have another question.", "That is my final answer.")
RECHECK = "Let me check again."
POINTS = {"high": 18, "low": 2}
VALUE_OF_SKILL = {"reverse": 0.18, "copy": 0.02}  # variant `content`
# The number ends the user message: with the chat template's fixed suffix it sits at a fixed offset before the
# answer digits, which a small RoPE model can learn to attend to (pilot 1, with the number
# mid-sentence, learned the format and the stopping but not the copy: 1.5% sampled accuracy).
QUESTION = {"copy": "Repeat the number: {n}", "reverse": "Write backwards: {n}"}
# Pilots 1-2 (width 64, 2 layers, lr 5e-3) never learned to copy; the trial at width 128, 4 layers, lr 1e-3 did in
# ~150 right-only steps (PREREG.md, "Pilot outcomes").
CONFIG = dict(
    hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4
)


# ---- tasks ----


def question(rng: random.Random, skill: str) -> tuple[str, str]:
    """(question, answer). Numbers 10-99 whose reverse has no leading zero (so both answers are 2-digit)."""
    n = rng.choice([k for k in range(10, 100) if k % 10])
    answer = str(n) if skill == "copy" else str(n)[::-1]
    return QUESTION[skill].format(n=n), answer


def points_tag(points: int) -> str:
    return f"[{points} points] "


def prompt_row(rng: random.Random, variant: str, index: int) -> dict:
    skill = rng.choice(SKILLS)
    q, answer = question(rng, skill)
    if variant == "content":
        v, prompt = VALUE_OF_SKILL[skill], q
    elif variant == "shown":
        pts = rng.choice(tuple(POINTS.values()))
        v, prompt = pts / 100, points_tag(pts) + q
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return {
        "index": index,
        "prompt": prompt,
        "label": {"answer": [answer], "value": v, "verifier": "math"},
        "skill": skill,
        "variant": variant,
    }


def sampled_answer(rng: random.Random, skill: str, answer: str) -> str:
    if rng.random() < P_CORRECT[skill]:
        return answer
    wrong = [str(k) for k in range(10, 100) if str(k) != answer]
    return rng.choice(wrong)


def transcript(rng: random.Random, clean: bool = False) -> tuple[str, str]:
    """(user prompt, assistant response) of the supervised data; points tags are random and change nothing.
    `clean`: every answer right (the first phase teaches the skills; the second sets base accuracy)."""
    skill = rng.choice(SKILLS)
    q, answer = question(rng, skill)
    if rng.random() < 0.5:
        q = points_tag(rng.choice(tuple(POINTS.values()))) + q
    first = answer if clean else sampled_answer(rng, skill, answer)
    response = f"Answer: {first}"
    u = rng.random()
    if u < P_STOP:
        pass
    elif u < P_STOP + P_FILLER:
        response += "\n" + rng.choice(FILLERS)
    else:
        response += f"\n{RECHECK}\nAnswer: {answer if clean else sampled_answer(rng, skill, answer)}"
    return q, response


# ---- data files ----


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def make_data(out: str, seed: int, n_train: int, n_heldout: int) -> dict:
    os.makedirs(out, exist_ok=True)
    summary = {}
    for variant in ("content", "shown"):
        rng = random.Random(f"{seed}-{variant}")
        for split, n in (("train", n_train), ("heldout", n_heldout)):
            rows = [prompt_row(rng, variant, i) for i in range(n)]
            write_jsonl(os.path.join(out, f"{variant}_{split}.jsonl"), rows)
            summary[f"{variant}_{split}"] = {
                "n": n,
                "share_high_value": sum(r["label"]["value"] > 0.1 for r in rows) / n,
                "share_reverse": sum(r["skill"] == "reverse" for r in rows) / n,
            }
    return summary


# ---- the model ----


def build_model(tokenizer, seed: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **CONFIG,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def encode(tokenizer, q: str, response: str) -> tuple[list[int], int]:
    """(token ids, index of the first response token): chat-templated prompt + response + <|im_end|>."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
    )
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return p_ids + r_ids, len(p_ids)


def supervise(
    model, tokenizer, seed: int, steps: int, batch_size: int, lr: float, clean_steps: int = 0, log_every: int = 50
) -> list:
    """Cross-entropy on response tokens only; the vocabulary projection runs on those positions alone (the
    49k-row softmax over whole sequences is most of the cost otherwise)."""
    import torch

    rng = random.Random(f"{seed}-sft")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    history, t0 = [], time.time()
    model.train()
    for step in range(1, steps + 1):
        batch = [encode(tokenizer, *transcript(rng, clean=step <= clean_steps)) for _ in range(batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((batch_size, width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        target = torch.zeros((batch_size, width), dtype=torch.bool)
        for i, (seq, start) in enumerate(batch):
            ids[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
            target[i, start : len(seq)] = True
        for g in opt.param_groups:  # linear warm-up over the first 5%, then cosine to 10%
            frac = step / steps
            g["lr"] = lr * min(1.0, frac / 0.05) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        pred = target[:, 1:]  # position t predicts token t+1
        logits = model.lm_head(hidden[:, :-1][pred])
        loss = torch.nn.functional.cross_entropy(logits.float(), ids[:, 1:][pred])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == steps:
            history.append({"step": step, "loss": round(loss.item(), 4), "sec": round(time.time() - t0, 1)})
            print(json.dumps(history[-1]), flush=True)
    model.eval()
    return history


# ---- the base check ----


def base_check(model, tokenizer, heldout: str, n_prompts: int, n_samples: int, seed: int) -> dict:
    """Sampled (temperature 1) accuracy per skill and P(stop right after the first answer line), scored by the
    plugin's own `score`. A quick in-process check; run.sh's `a_base` measures the same with generate/eval."""
    import torch

    from openrlhf_rlev.reward.core import score

    with open(heldout, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:n_prompts]
    torch.manual_seed(seed)
    stats = {s: {"n": 0, "correct": 0, "stop_after_answer": 0} for s in SKILLS}
    for r in rows:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": r["prompt"]}], tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = model.generate(
                ids.repeat(n_samples, 1),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=32,
                attention_mask=torch.ones_like(ids.repeat(n_samples, 1)),
            )
        for seq in out[:, ids.shape[1] :]:
            text = tokenizer.decode(seq, skip_special_tokens=True)
            st = stats[r["skill"]]
            st["n"] += 1
            st["correct"] += bool(score(text, r["label"]).correct)
            st["stop_after_answer"] += "\n" not in text.strip()
    for st in stats.values():
        st["acc"] = round(st["correct"] / st["n"], 3)
        st["p_stop_after_answer"] = round(st["stop_after_answer"] / st["n"], 3)
    total = sum(st["n"] for st in stats.values())
    stats["all"] = {"n": total, "acc": round(sum(st["correct"] for st in stats.values()) / total, 3)}
    return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(HERE, "model"), help="HF model folder (not committed)")
    p.add_argument("--data", default=os.path.join(HERE, "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=500, help="total supervised steps")
    p.add_argument("--clean-steps", type=int, default=300, help="the first steps use only right answers")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=CONFIG["hidden_size"], help="MLP is 4x, 4 heads")
    p.add_argument("--layers", type=int, default=CONFIG["num_hidden_layers"])
    p.add_argument("--train-prompts", type=int, default=4000)
    p.add_argument("--heldout-prompts", type=int, default=400)
    p.add_argument("--check-prompts", type=int, default=100, help="held-out prompts in the base check (0: skip)")
    p.add_argument("--data-only", action="store_true")
    p.add_argument("--record-in-model", action="store_true", help="write make_tiny.json into --out (a trial)")
    args = p.parse_args(argv)

    summary = {"data": make_data(args.data, args.seed, args.train_prompts, args.heldout_prompts)}
    if args.data_only:
        print(json.dumps(summary, indent=2))
        return 0
    import torch

    from openrlhf_rlev.evaluation.model_loading import load_tokenizer

    torch.set_num_threads(1)
    tokenizer = load_tokenizer("smollm2")
    CONFIG.update(hidden_size=args.hidden, intermediate_size=4 * args.hidden, num_hidden_layers=args.layers)
    model = build_model(tokenizer, args.seed)
    summary["parameters"] = sum(p.numel() for p in model.parameters())
    summary["config"] = CONFIG
    summary["sft"] = vars(args) | {"p_correct": P_CORRECT, "p_stop": P_STOP, "p_filler": P_FILLER}
    summary["history"] = supervise(
        model, tokenizer, args.seed, args.steps, args.batch_size, args.lr, clean_steps=args.clean_steps
    )
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    if args.check_prompts:
        for variant in ("content", "shown"):
            heldout = os.path.join(args.data, f"{variant}_heldout.jsonl")
            summary[f"base_check_{variant}"] = base_check(model, tokenizer, heldout, args.check_prompts, 4, args.seed)
    with open(
        os.path.join(args.out, "make_tiny.json") if args.record_in_model else os.path.join(HERE, "make_tiny.json"),
        "w",
        encoding="utf-8",
    ) as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
