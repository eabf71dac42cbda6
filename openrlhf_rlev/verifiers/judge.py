"""The paper's LLM-judge protocol (RLEV, arXiv 2510.20187, judged by Qwen2.5-72B-Instruct).

The judge sees the question, only the LAST NON-EMPTY LINE of the response and the reference answer,
and must reply strictly YES or NO; anything unclear counts as NO. Showing one line keeps the judge
from being swayed by the reasoning and keeps requests short. The HTTP side lives in judge_client.
"""

import dataclasses
import re

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.ratelimit import RateLimitedWarner
from openrlhf_rlev.verifiers import choice
from openrlhf_rlev.verifiers.judge_client import ClientConfig, JudgeUnavailable, get_client, logger
from openrlhf_rlev.verifiers.judge_template import DEFAULT_TEMPLATE, TemplateError, load_template
from openrlhf_rlev.verifiers.registry import Check

MAX_LINE_CHARS = 2000  # a response that is one huge line: its tail holds the answer

# The user turn of common chat templates: OpenRLHF passes the templated prompt, the judge must see the question.
_USER_TURNS = (
    re.compile(r"<\|im_start\|>user[ \t]*\n(.*?)<\|im_end\|>", re.DOTALL),  # ChatML: Qwen, SmolLM, Yi
    re.compile(r"<\|start_header_id\|>user<\|end_header_id\|>(.*?)<\|eot_id\|>", re.DOTALL),  # Llama 3
    re.compile(r"<start_of_turn>user[ \t]*\n(.*?)<end_of_turn>", re.DOTALL),  # Gemma
    re.compile(r"<｜User｜>(.*?)<｜Assistant｜>", re.DOTALL),  # DeepSeek
    re.compile(r"<\|user\|>(.*?)(?:<\|end\|>|</s>|<\|assistant\|>)", re.DOTALL),  # Phi-3, Zephyr
    re.compile(r"\[INST\](.*?)\[/INST\]", re.DOTALL),  # Llama 2, Mistral
)
_warner = RateLimitedWarner(logger)
_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_VERDICT_LABEL = re.compile(r"^(?:final\s+)?(?:answer|verdict|judgement|judgment|decision)\s*[:：]\s*", re.IGNORECASE)


def last_line(response: str) -> str:
    """The last line with any non-space text, stripped (the paper's protocol judges this line only)."""
    for line in reversed(response.splitlines()):
        line = line.strip()
        if line:
            return line[-MAX_LINE_CHARS:]
    return ""


def reference_text(answers: tuple[str, ...]) -> str:
    """A multi-part reference (every part must be right) is shown as its parts in order."""
    if len(answers) == 1:
        return answers[0]
    return "; ".join(f"({i}) {a}" for i, a in enumerate(answers, 1))


def plain_question(prompt: str | None) -> str | None:
    """The last user turn of a chat-templated prompt, without the template's markup; other text as it is."""
    if not prompt:
        return prompt
    for pattern in _USER_TURNS:
        turns = pattern.findall(prompt)
        if turns:
            return turns[-1].strip()
    return prompt.strip()


def build_prompt(template: str, question: str | None, line: str, answers: tuple[str, ...]) -> str:
    question = plain_question(question)
    return template.format(question=question or "(not given)", response=line, reference=reference_text(answers))


def parse_verdict(reply: str) -> bool:
    """True only when the reply's FINAL line is a plain YES (case, markup, surrounding punctuation, a leading
    "Answer:"/"Verdict:" and a leading <think> block aside), as the paper's protocol asks. Reasoning above that line
    may say anything; a reply that echoes the question's option list ("A. ... B. ... C. ...") is never a YES, nor is
    a final line that names both verdicts ("YES/NO")."""
    text = _THINK.sub("", reply)
    if choice.lists_options(text):
        return False
    line = last_line(text).strip("*`'\".!。 \t")
    line = _VERDICT_LABEL.sub("", line).strip("*`'\".!。 \t")
    return line.upper() == "YES"


def client_config(settings) -> ClientConfig:
    return ClientConfig(**{f.name: getattr(settings, f"judge_{f.name}") for f in dataclasses.fields(ClientConfig)})


def check(response: str, answers: tuple[str, ...], *, question: str | None = None, settings) -> Check:
    """Never raises and never outlasts settings.judge_deadline; a down judge is reward 0, judge_unavailable."""
    line = last_line(response)
    if not line:
        return Check(False)  # nothing to judge: unclear means NO, no request
    if not settings.judge_url:
        _warner.warn("judge:no_url", "RLEV judge verifier used without judge_url (RLEV_JUDGE_URL / --rlev.judge_url)")
        return Check(False, reasons.JUDGE_UNAVAILABLE)
    try:
        template = load_template(settings.judge_template_file) if settings.judge_template_file else DEFAULT_TEMPLATE
    except TemplateError as e:
        _warner.warn("judge:template", f"RLEV judge template unusable: {e}")
        return Check(False, reasons.VERIFIER_ERROR)
    try:
        reply = get_client(client_config(settings)).complete(build_prompt(template, question, line, answers))
    except JudgeUnavailable:
        return Check(False, reasons.JUDGE_UNAVAILABLE)
    except ValueError as e:  # a malformed judge_url
        _warner.warn("judge:url", f"RLEV judge: {e}")
        return Check(False, reasons.JUDGE_UNAVAILABLE)
    return Check(parse_verdict(reply))


def instruction(n_answers: int) -> str:
    """The judge reads the last line only; no fixed answer form is asked for."""
    return "Answer every part of the question completely."
