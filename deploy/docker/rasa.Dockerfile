# Rasa server image (also runs the console: same code and environment, another command).
# Build from the repository root after `make train`:
#   docker build -f deploy/docker/rasa.Dockerfile -t brand-assistant-rasa .
FROM python:3.10.16-slim-bookworm

# bot.serve sets the worker and thread defaults (SANIC_WORKERS=2, one TensorFlow thread each)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=3
WORKDIR /app

COPY requirements/rasa.txt requirements/rasa.txt
RUN pip install --no-cache-dir -r requirements/rasa.txt

COPY bot/ bot/
COPY common/ common/
COPY personas/ personas/
COPY data/ data/
COPY config.yml domain.yml endpoints.yml credentials.yml ./
# the trained model (`make train`): models/nlu-core-<fingerprint>.tar.gz
COPY models/*.tar.gz models/

RUN useradd --create-home --uid 10001 app
USER 10001
EXPOSE 5005 8000

# RASA_TOKEN, ACTIONS_TOKEN, REDIS_* and ACTION_ENDPOINT_URL come from the environment
# (Kubernetes Secret); bot.serve reads the token from RASA_TOKEN, never from the command line.
CMD ["python", "-m", "bot.serve", "run", "--enable-api", "--interface", "0.0.0.0", "--port", "5005", \
     "--model", "models", "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
