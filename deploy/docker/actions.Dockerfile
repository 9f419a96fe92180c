# Action server image. Build from the repository root after `make train`:
#   docker build -f deploy/docker/actions.Dockerfile -t brand-assistant-actions .
FROM python:3.11.11-slim-bookworm

# actions.server sets OMP_NUM_THREADS=1 unless given
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app FAQ_EMBEDDING_MODEL=/app/models/faq-embeddings
WORKDIR /app

COPY requirements/actions.txt requirements/actions.txt
# torch's CPU build first (PyPI's default is a multi-GB CUDA build), then the lock file
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir -r requirements/actions.txt

COPY actions/ actions/
COPY common/ common/
COPY data/ data/
COPY personas/ personas/
COPY domain.yml ./
# the FAQ embedding model trained with the Rasa model: models/faq-embeddings-<fingerprint>
ARG FAQ_EMBEDDINGS=models/faq-embeddings
COPY ${FAQ_EMBEDDINGS}/ models/faq-embeddings/

RUN useradd --create-home --uid 10001 app
USER 10001
EXPOSE 5055

# ACTIONS_TOKEN and REDIS_URL come from the environment (Kubernetes Secret).
CMD ["python", "-m", "actions.server", "--actions", "actions", "--host", "0.0.0.0", "--port", "5055"]
