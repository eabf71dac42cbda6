"""A tiny causal LM for CPU training tests, built at test time from SmolLM2's real tokenizer.

A randomly initialised 2-layer model emits any of 49k tokens, so it is never correct and RL has nothing to learn
from. This one is random everywhere except for a bias that makes "1", "2" and the end-of-turn token likely at
every position (about 40/20/40%): with labels whose answer is "1" or "2", about a quarter of the samples are
correct and groups of four mix right and wrong, so every estimator gets non-zero advantages in one step. The
bias rides on a constant component of every token embedding that the final RMSNorm passes to the LM head.
"""

import json
import random
from pathlib import Path

ANSWER_TOKENS = ("1", "2")


def build(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from openrlhf_rlev.evaluation.model_loading import load_tokenizer

    folder = Path(folder)
    tokenizer = load_tokenizer("smollm2")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 4.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.mul_(0.1)
            layer.mlp.down_proj.weight.mul_(0.1)
        head = model.lm_head.weight
        for token, weight in ((ANSWER_TOKENS[0], 1.6), (ANSWER_TOKENS[1], 1.52), (tokenizer.eos_token, 1.6)):
            head[tokenizer.convert_tokens_to_ids(token), 0] = weight
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def write_dataset(path: Path, n: int, seed: int = 0) -> Path:
    """n prompts with answer "1" or "2" and values spread over [0.01, 0.3] (s from 1.1 to 2)."""
    rng = random.Random(seed)
    values = [0.01, 0.02, 0.05, 0.08, 0.15, 0.3]
    with open(path, "w") as f:
        for i in range(n):
            answer = rng.choice(ANSWER_TOKENS)
            row = {
                "prompt": f"Question {i}: reply with the digit {answer}.",
                "label": {"answer": answer, "value": values[i % len(values)]},
            }
            f.write(json.dumps(row) + "\n")
    return Path(path)


def write_raw_exam(path: Path, n: int, seed: int = 0) -> Path:
    """The same questions as `write_dataset`, as raw exam rows for `openrlhf-rlev prepare` (v = points / total):
    prepare --input-key question --answer-key answer --value-key points --total-key total."""
    rng = random.Random(seed)
    values = [0.01, 0.02, 0.05, 0.08, 0.15, 0.3]
    with open(path, "w") as f:
        for i in range(n):
            answer = rng.choice(ANSWER_TOKENS)
            row = {"question": f"Question {i}: reply with the digit {answer}.", "answer": answer, "total": 100.0}
            row["points"] = values[i % len(values)] * 100
            f.write(json.dumps(row) + "\n")
    return Path(path)


def prepare_exam(raw: Path, output: Path, **options) -> Path:
    """Run the real `prepare` on `write_raw_exam` rows (no how-to-answer instruction: short prompts)."""
    from openrlhf_rlev.prepare import PrepareOptions, prepare

    keys = dict(input_key="question", answer_key="answer", value_key="points", total_key="total")
    prepare(
        PrepareOptions(inputs=[str(raw)], output=str(output), instruction=False, progress=False, **keys, **options)
    )
    return Path(output)
