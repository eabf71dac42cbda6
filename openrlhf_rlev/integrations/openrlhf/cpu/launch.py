"""What `--rlev.cpu` changes in a launch: defaults that fit a CPU, refusals with reasons, Ray's resources, models.

The flags stay OpenRLHF's and pass through its real parser. Only flags the user did not give get a CPU default;
a given flag that cannot work on a CPU is refused with the reason, never silently changed.
"""

import json
import os
import shutil
import tempfile

# OpenRLHF defaults that assume GPUs, and what a CPU run uses instead when the flag is not given.
DEFAULTS = {
    "--vllm.num_engines": "1",  # default None: no rollout engine, which OpenRLHF (0.10.2-0.11.x) cannot train without
    "--actor.num_gpus_per_node": "1",  # default 8: eight policy processes on a laptop
    "--ref.num_gpus_per_node": "1",
    "--ds.attn_implementation": "sdpa",  # default flash_attention_2 needs CUDA
    "--vllm.sync_backend": "gloo",  # default nccl; weights go to the engines by state dict anyway
    "--ckpt.best_metric_key": "none",  # default: a DeepSpeed checkpoint whenever an eval metric improves
}
CACHE_ENV = "RLEV_CACHE_DIR"


def given(argv: list[str], flag: str) -> bool:
    return any(token == flag or token.startswith(flag + "=") for token in argv)


def with_defaults(argv: list[str]) -> list[str]:
    extra = []
    for flag, value in DEFAULTS.items():
        if not given(argv, flag):
            extra += [flag, value]
    return [*argv, *extra]


def problems(args, cpu_dtype: str = "fp32") -> list[str]:
    """Settings the CPU backend does not support, each with why (empty when the run can go ahead)."""
    found = []

    def refuse(condition, message):
        if condition:
            found.append(message)

    refuse(args.ds.packing_samples, "--ds.packing_samples needs flash-attn (CUDA); on CPU samples are padded")
    refuse(args.train.dynamic_batch_enable, "--train.dynamic_batch_enable turns on sample packing (flash-attn, CUDA)")
    refuse(
        getattr(args.train, "partial_rollout_enable", False),
        "--train.partial_rollout_enable pauses vLLM mid-request; the CPU engine finishes each call before a weight "
        "update (plain --train.async_enable works)",
    )
    refuse(args.train.colocate_all or args.train.colocate_actor_ref, "colocation (--train.colocate_*) is GPU sharing")
    refuse(
        args.critic.model_name_or_path,
        "--algo.advantage.estimator gae (OpenRLHF's default) needs a critic model, which the CPU backend does not run "
        "yet; choose rloo, reinforce, reinforce_baseline, group_norm or dr_grpo",
    )
    refuse(
        args.ds.lora.rank > 0, "LoRA (--ds.lora.rank) is not supported on CPU (the weight sync copies full weights)"
    )
    refuse(args.ds.load_in_4bit, "--ds.load_in_4bit needs bitsandbytes on CUDA")
    refuse(args.ds.use_liger_kernel, "--ds.use_liger_kernel needs Triton on CUDA")
    refuse(args.ds.zero_stage == 3, "--ds.zero_stage 3 partitions with DeepSpeed; use 0-2 (ignored on CPU)")
    refuse(args.ds.ring_attn_size > 1 or args.ds.tensor_parallel_size > 1, "ring attention / DeepSpeed TP need CUDA")
    refuse(
        args.vllm.tensor_parallel_size > 1, "--vllm.tensor_parallel_size > 1 is vLLM's; the CPU engine is one process"
    )
    refuse(
        # OpenRLHF's parser itself switches to flash_attention_2 under packing, refused above: say it once.
        "flash" in str(args.ds.attn_implementation) and not args.ds.packing_samples,
        f"--ds.attn_implementation {args.ds.attn_implementation} needs CUDA; use sdpa or eager",
    )
    refuse(args.actor.optim != "adam", f"--actor.optim {args.actor.optim}: the CPU backend trains with AdamW")
    advantage = args.algo.advantage
    refuse(
        getattr(advantage, "is_correction_level", "off") != "off" or getattr(advantage, "is_correction_enable", False),
        "OpenRLHF's importance-sampling correction (--algo.advantage.is_correction_*) asks vLLM > 0.10.0 for "
        "logprobs_mode, which the CPU rollout engine does not claim to be",
    )
    refuse(args.ds.deepcompile, "--ds.deepcompile compiles DeepSpeed's engine, which the CPU backend does not run")
    world = args.actor.num_nodes * args.actor.num_gpus_per_node
    refuse(
        # DeepSpeed's own rule (DeepSpeedConfig._batch_assertion), which refuses such a run on GPUs at start-up too
        not args.train.dynamic_batch_enable and args.train.batch_size % (args.train.micro_batch_size * world) != 0,
        f"--train.batch_size {args.train.batch_size} is not --train.micro_batch_size {args.train.micro_batch_size} "
        f"x {world} actor process(es) x a whole number of accumulation steps; DeepSpeed refuses this batch",
    )
    refuse(args.ckpt.load_enable, "--ckpt.load_enable resumes DeepSpeed states, which CPU runs do not write")
    refuse(
        args.ckpt.save_steps not in (-1, float("inf")),
        "--ckpt.save_steps writes DeepSpeed states; CPU runs save the final model to --ckpt.output_dir",
    )
    refuse(
        args.ckpt.best_metric_key != "none",
        "--ckpt.best_metric_key saves DeepSpeed states at the best eval; CPU runs save the final model (use none)",
    )
    refuse(getattr(args.data, "max_images_per_prompt", 0) > 0, "vision-language rollouts are not supported on CPU")
    refuse(args.actor.num_nodes != 1 or args.ref.num_nodes != 1, "a CPU run uses one node (--actor.num_nodes 1)")
    refuse(not args.vllm.num_engines, "--vllm.num_engines must be >= 1 (the CPU rollout engine)")
    refuse(
        cpu_dtype == "bf16" and args.ds.param_dtype != "bf16",
        f"--rlev.cpu_dtype bf16 mirrors DeepSpeed's bf16 mode; --ds.param_dtype {args.ds.param_dtype} would need "
        "DeepSpeed's fp16 loss scaling, which the CPU backend does not run",
    )
    return found


def ray_resources(args) -> dict:
    """Local Ray with one logical 'GPU' per process OpenRLHF places on a GPU; each is a CPU process here."""
    gpus = args.actor.num_nodes * args.actor.num_gpus_per_node + args.vllm.num_engines * args.vllm.tensor_parallel_size
    if args.algo.kl.init_coef > 0:
        gpus += args.ref.num_nodes * args.ref.num_gpus_per_node
    return {"num_gpus": gpus, "num_cpus": gpus + 2, "include_dashboard": False}


def joins_cluster(environ) -> bool:
    """Whether ray.init will connect to a running cluster (a submitted job's driver, or RAY_ADDRESS) instead of
    starting a local one."""
    return bool(environ.get("RAY_ADDRESS")) or "RAY_JOB_CONFIG_JSON_ENV_VAR" in environ


def cluster_problem(slots: int) -> str | None:
    """On a running cluster: why it cannot place this CPU run (too few 'GPU' slots), or None."""
    import ray

    have = ray.cluster_resources().get("GPU", 0)
    if have >= slots:
        return None
    return (
        f"--rlev.cpu on this Ray cluster needs {slots} 'GPU' slots (one CPU process each: policy, rollout engines, "
        f"reference) but the cluster has {have:g}: start its nodes with `ray start ... --num-gpus N` (on a CPU "
        f"node these are process slots, not devices)"
    )


def concurrency(args) -> str:
    """How many processes of each role compute at once (for `device.share`): the JSON the workers read."""
    refs = args.ref.num_nodes * args.ref.num_gpus_per_node if args.algo.kl.init_coef > 0 else 0
    engines = args.vllm.num_engines * args.vllm.tensor_parallel_size
    return json.dumps({"engine": engines, "actor": args.actor.num_nodes * args.actor.num_gpus_per_node, "ref": refs})


def cache_dir() -> str:
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "openrlhf-rlev"
    )
    return os.path.join(base, "models")


def resolve_model(name: str) -> str:
    """A HF folder for `name`: itself, or (for `smollm2` / a .gguf file) a float32 safetensors copy, made once.

    OpenRLHF loads models and tokenizers by folder; a GGUF file is converted with transformers and cached.
    """
    from openrlhf_rlev.evaluation import model_loading

    if name != model_loading.SMOLLM2 and not name.endswith(".gguf"):
        return name
    folder, gguf = model_loading.resolve(name)
    stem = os.path.splitext(gguf)[0]
    target = os.path.join(cache_dir(), stem)
    if os.path.isfile(os.path.join(target, "config.json")):
        return target
    model, tokenizer = model_loading.load_model(name, dtype="float32")
    # The GGUF's generation config names the wrong EOS (see model_loading.fix_chatml_special_tokens).
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    os.makedirs(cache_dir(), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{stem}-", dir=cache_dir())
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not os.path.isfile(os.path.join(target, "config.json")):  # not a concurrent conversion that won
            raise
    return target
