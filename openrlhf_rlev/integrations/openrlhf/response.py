"""Recover the response from OpenRLHF's `query`, which is prompt + response decoded with special tokens kept."""

import os

from openrlhf_rlev.verifiers.extract import EOS_TEXTS


def eos_texts() -> tuple[str, ...]:
    extra = os.environ.get("RLEV_EXTRA_EOS", "")
    return EOS_TEXTS + tuple(t for t in extra.split(",") if t)


def strip_special_tail(text: str, specials: tuple[str, ...]) -> str:
    """Drop trailing EOS/pad text, repeated (padding can follow EOS) and interleaved with whitespace.

    Linear in the length of the tail it drops: it moves an end index and copies once (400k trailing `<pad>`s once
    cost 14 s when every step copied the rest of the text)."""
    specials = tuple(s for s in specials if s)
    end = len(text)
    while True:
        while end and text[end - 1].isspace():
            end -= 1
        for s in specials:
            if text.endswith(s, 0, end):
                end -= len(s)
                break
        else:
            return text[:end]


def recover_response(query: str, prompt: str | None) -> tuple[str, bool]:
    """(response, prompt_found). If the prompt is not a prefix (re-tokenisation drift), fall back to its last
    occurrence, then to the whole query."""
    response = query
    found = True
    if prompt:
        if query.startswith(prompt):
            response = query[len(prompt) :]
        else:
            i = query.rfind(prompt)
            found = i >= 0
            response = query[i + len(prompt) :] if found else query
    return strip_special_tail(response, eos_texts()), found
