"""The prompt column: chat messages whose last user turn ends with how to state the final answer.

Each verifier module words the instruction for the form it extracts (`instruction` in verifiers/registry.py): a
last line 'Answer: ...' for choice and exact answers, \\boxed{} for math. OpenRLHF applies the chat template
(--data.apply_chat_template).
"""

from openrlhf_rlev.verifiers import registry


def build_prompt(question, verifier: str, n_answers: int, add_instruction: bool = True) -> list[dict]:
    """Messages [{"role", "content"}]; the instruction is appended to the last user message."""
    messages = [{"role": "user", "content": question}] if isinstance(question, str) else [dict(m) for m in question]
    if add_instruction:
        for m in reversed(messages):
            if m["role"] == "user":
                m["content"] = f"{m['content'].rstrip()}\n\n{registry.instruction(verifier, n_answers)}"
                break
    return messages
