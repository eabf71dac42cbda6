"""The agent file for RLEV on a user's agent (see weighted.py); OpenRLHF loads it by path in each rollout engine.

`openrlhf-rlev train --reward_func rlev --train.agent_func_path their_agent.py ...` points OpenRLHF here and names
their file in OPENRLHF_RLEV_INNER_AGENT. Their file is loaded by OpenRLHF's own loader (the one the engine would
have used), and each episode runs through their executor unchanged; only the episode's reward is multiplied by
s(x) of its label, and rlev/* is added to its extra_logs. Their scores (or OpenRLHF's default, their total reward)
stay as they are.
"""

import os

from openrlhf.utils.agent import AgentExecutorBase

from openrlhf_rlev.integrations.openrlhf import weighted
from openrlhf_rlev.reward.settings import Settings


def load_their_executor(path: str):
    from openrlhf.trainer.ray.vllm_engine import _load_agent_executor  # the engine's own loader, with its checks

    return _load_agent_executor(path)


class AgentExecutor(AgentExecutorBase):
    def __init__(self):
        path = os.environ.get(weighted.INNER_AGENT_ENV)
        if not path:
            raise weighted.WeightedError(f"{weighted.INNER_AGENT_ENV} is not set: launch with openrlhf-rlev train")
        self.inner = load_their_executor(path)

    async def execute(self, prompt, label, sampling_params, max_length: int, hf_tokenizer, llm_engine, images=None):
        output = await self.inner.execute(
            prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images=images
        )
        if output.get("reward") is None:  # their executor produced no reward: leave it to OpenRLHF, as without RLEV
            return output
        reward, logs = weighted.weigh(output["reward"], label, output.get("extra_logs"), Settings.from_env())
        output["reward"], output["extra_logs"] = reward, logs
        if output.get("scores") is None:
            output["scores"] = logs[weighted.BASE_REWARD]
        return output
