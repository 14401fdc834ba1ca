# The reviewstream worker image (used by docker-compose.yml and deploy/k8s).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY models ./models
COPY bench ./bench
COPY data ./data
RUN pip install --no-cache-dir -e . \
 && python -m streams.llm.local.train
ENV REVIEWSTREAM_WEB_HOST=0.0.0.0 REVIEWSTREAM_DATADIR=/var/lib/reviewstream REVIEWSTREAM_LOCAL_MODEL_DIR=/app/.local/models
EXPOSE 6066
CMD ["reviewstream", "worker"]
