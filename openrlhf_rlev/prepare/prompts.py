"""The prompt column: chat messages whose last user turn ends with how to state the final answer.

The instruction matches what the verifier extracts (see verifiers/extract.py): a last line 'Answer: ...' for
choice and exact answers, \\boxed{} for math. OpenRLHF applies the chat template (--data.apply_chat_template).
"""


def instruction(verifier: str, n_answers: int) -> str:
    if verifier == "choice":
        if n_answers == 1:
            return "End your response with a final line 'Answer: <letter(s)>' giving the correct option letter(s)."
        return (
            f"This question has {n_answers} parts. End your response with a final line 'Answer: ' followed by "
            f"the {n_answers} option letters in order, separated by spaces."
        )
    if verifier == "math":
        if n_answers == 1:
            return "Put your final answer in \\boxed{}."
        return f"This question has {n_answers} parts. Put the {n_answers} final answers in order in \\boxed{{}}, separated by '; '."
    if verifier == "exact":
        if n_answers == 1:
            return "End your response with a final line 'Answer: <your answer>'."
        return f"This question has {n_answers} parts. End your response with a final line 'Answer: ' followed by the {n_answers} answers in order, separated by '; '."
    return "Answer every part of the question completely."


def build_prompt(question, verifier: str, n_answers: int, add_instruction: bool = True) -> list[dict]:
    """Messages [{"role", "content"}]; the instruction is appended to the last user message."""
    messages = [{"role": "user", "content": question}] if isinstance(question, str) else [dict(m) for m in question]
    if add_instruction:
        for m in reversed(messages):
            if m["role"] == "user":
                m["content"] = f"{m['content'].rstrip()}\n\n{instruction(verifier, n_answers)}"
                break
    return messages
