# vidseg on CUDA: torch's CUDA wheels bring their own runtime; the host needs the NVIDIA driver
# and the container toolkit (docker-compose.yml reserves one GPU).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1 setuptools wheel \
    && SAM2_BUILD_CUDA=0 pip install --no-cache-dir --no-build-isolation sam2==1.1.0
COPY pyproject.toml README.md ./
COPY vidseg ./vidseg
RUN pip install --no-cache-dir --no-build-isolation .
COPY configs ./configs
COPY pipelines ./pipelines
ENTRYPOINT ["vidseg"]
CMD ["demo", "--config", "configs/gpu.yaml"]
