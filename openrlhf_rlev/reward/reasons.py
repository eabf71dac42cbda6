"""The failure classes a verdict can carry.

The set is closed so that every `reward_func` call logs the same `extra_logs` keys (OpenRLHF
stacks them per batch and fails on a size mismatch if one sample has a key another lacks).
"""

LABEL_MALFORMED = "label_malformed"
LABEL_MISSING_ANSWER = "label_missing_answer"
LABEL_BAD_VALUE = "label_bad_value"
RESPONSE_INVALID = "response_invalid"
VERIFIER_TIMEOUT = "verifier_timeout"  # one verifier call passed RLEV_TIMEOUT (docs/limits.md)
VERIFIER_BUSY = "verifier_busy"  # no verifier worker was free within RLEV_QUEUE_TIMEOUT
SAMPLE_TIMEOUT = "sample_timeout"  # the sample's whole verification passed RLEV_SAMPLE_TIMEOUT
VERIFIER_ERROR = "verifier_error"
JUDGE_UNAVAILABLE = "judge_unavailable"
INTERNAL_ERROR = "internal_error"
# The response named no answer: it restated the option list or named every option (choice questions).
OPTIONS_LISTED = "options_listed"
# The strict answer format: neither a marked answer nor a bare one (RLEV_ANSWER_FORMAT / a label's answer_format).
ANSWER_FORMAT = "answer_format"

FAILURES = (
    LABEL_MALFORMED,
    LABEL_MISSING_ANSWER,
    LABEL_BAD_VALUE,
    RESPONSE_INVALID,
    VERIFIER_TIMEOUT,
    VERIFIER_BUSY,
    SAMPLE_TIMEOUT,
    VERIFIER_ERROR,
    JUDGE_UNAVAILABLE,
    INTERNAL_ERROR,
    OPTIONS_LISTED,
    ANSWER_FORMAT,
)
