"""The CPU backend's thread split: processes that compute at the same time share the cores instead of each taking
all of them (an actor and a reference forward with 2 threads each on 2 cores run slower than with 1 each)."""

import json
import types
from types import SimpleNamespace

import pytest
import torch

from openrlhf_rlev.integrations.openrlhf.cpu import device, launch


def args(actors=1, engines=1, kl=0.0):
    return SimpleNamespace(
        actor=SimpleNamespace(num_nodes=1, num_gpus_per_node=actors),
        ref=SimpleNamespace(num_nodes=1, num_gpus_per_node=1),
        vllm=SimpleNamespace(num_engines=engines, tensor_parallel_size=1),
        algo=SimpleNamespace(kl=SimpleNamespace(init_coef=kl)),
    )


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(device, "cores", lambda: 2)
    monkeypatch.delenv(device.THREADS_ENV, raising=False)

    def use(run_args):
        monkeypatch.setenv(device.CONCURRENCY_ENV, launch.concurrency(run_args))

    return use


def test_each_phase_shares_the_cores_among_the_processes_running_it(two_cores, monkeypatch):
    two_cores(args(kl=0.01))  # actor + reference forward together
    assert json.loads(launch.concurrency(args(kl=0.01))) == {"engine": 1, "actor": 1, "ref": 1}
    assert [device.share(p) for p in ("generation", "experience", "training")] == [2, 1, 2]
    two_cores(args(kl=0.0))  # no reference model: the actor's forward has the machine
    assert device.share("experience") == 2
    two_cores(args(actors=2, engines=2))  # data parallel, two engines
    assert [device.share(p) for p in ("generation", "experience", "training")] == [1, 1, 1]
    monkeypatch.setenv(device.THREADS_ENV, "3")
    assert device.share("experience") == 3  # the user's number wins


def test_actor_forward_takes_the_experience_share_without_grad_and_the_training_share_with_it(two_cores):
    two_cores(args(kl=0.01))
    seen = []

    class Actor(torch.nn.Module):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return x

    module = types.SimpleNamespace(Actor=Actor)
    before = torch.get_num_threads()
    try:
        device.split_actor_threads(module)
        device.split_actor_threads(module)  # idempotent: wrapped once
        with torch.no_grad():
            Actor()(torch.zeros(1))
        Actor()(torch.zeros(1))
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]
    assert Actor.forward.__wrapped__.__name__ == "forward" and not hasattr(Actor.forward.__wrapped__, "__wrapped__")
