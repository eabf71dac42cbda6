"""`openrlhf-rlev prepare`: OpenRLHF-ready datasets with value labels. See pipeline.prepare and the modules it calls:
readers (one per input schema) and gaokao, values (normalisation, difficulty map, shuffle), select (--sample,
--limit), prompts, eval_labels (--eval), writer, summary."""

from openrlhf_rlev.prepare.pipeline import PrepareOptions, prepare
from openrlhf_rlev.prepare.records import NothingWritten, PrepareError

__all__ = ["NothingWritten", "PrepareError", "PrepareOptions", "prepare"]
