"""Recovering the response from OpenRLHF's query (prompt + response, special tokens kept)."""

from hypothesis import given
from hypothesis import strategies as st

from openrlhf_rlev.integrations.openrlhf.response import recover_response
from openrlhf_rlev.verifiers.extract import EOS_TEXTS


def test_strips_prompt_and_repeated_eos_and_pad():
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    query = prompt + "answer is 4<|im_end|><|endoftext|><|endoftext|>\n"
    assert recover_response(query, prompt) == ("answer is 4", True)


def test_prompt_not_a_prefix_falls_back_and_says_so():
    assert recover_response("xyz body", "prompt") == ("xyz body", False)
    assert recover_response("<s>prompt body</s>", "prompt") == (" body", True)


@given(st.text(max_size=200), st.lists(st.sampled_from(EOS_TEXTS), max_size=4))
def test_response_survives_any_text_and_special_tail(body, tail):
    prompt = "P:"
    response, found = recover_response(prompt + body + "".join(tail), prompt)
    assert found
    assert response == recover_response(prompt + body, prompt)[0]  # the special tail never leaks into the answer
    assert body.startswith(response)


@given(st.text(alphabet=st.characters(blacklist_characters="<>[]"), max_size=200))
def test_plain_body_comes_back_unchanged_but_trailing_space(body):
    assert recover_response("P:" + body + "<|im_end|>", "P:") == (body.rstrip(), True)
