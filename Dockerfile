# syntax=docker/dockerfile:1
# The image the deployment manifests run (cluster/deploy/rayjob.yaml): Python 3.11, torch 2.13.0, and this
# repository installed with the Ray version pyproject.toml pins. Build both variants from the repository root:
#
#   docker build -t asyncmarl:0.1.0-cpu .                                    # CPU torch: head, rollout workers
#   docker build --build-arg TORCH_VARIANT=cuda -t asyncmarl:0.1.0-cuda .    # CUDA torch: the GPU learner group
#
# then tag and push both to a registry your cluster pulls from and put those names in the manifests.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
# cpu: the CPU wheel from download.pytorch.org; cuda: PyPI's Linux wheel, built with CUDA
ARG TORCH_VARIANT=cpu
# must equal the ray pin in pyproject.toml and rayVersion in cluster/deploy/rayjob.yaml (tests/cluster/test_deploy.py)
ARG RAY_VERSION=2.60.0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0

# KubeRay's liveness and readiness probes run wget inside the Ray containers; the slim image has none
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*

RUN if [ "$TORCH_VARIANT" = "cpu" ]; then \
        pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu; \
    elif [ "$TORCH_VARIANT" = "cuda" ]; then \
        pip install "torch==${TORCH_VERSION}"; \
    else \
        echo "TORCH_VARIANT must be cpu or cuda, got '${TORCH_VARIANT}'" >&2; exit 1; \
    fi

WORKDIR /opt/asyncmarl
COPY pyproject.toml setup.py README.md ./
COPY platform ./platform
COPY rollout_workers ./rollout_workers
COPY learner ./learner
COPY memory_service ./memory_service
COPY cluster ./cluster
# A regular (not editable) install: the job imports asyncmarl from site-packages, whatever its working directory
RUN pip install . \
    && python -c "import ray, asyncmarl.cluster.cli; assert ray.__version__ == '${RAY_VERSION}', ray.__version__"

# Run as an unprivileged user; run directories go to /runs, where the manifests mount a persistent volume
RUN useradd --create-home --uid 1000 ray && mkdir -p /runs && chown ray:ray /runs
USER 1000
WORKDIR /home/ray
