# syntax=docker/dockerfile:1
# Build stage: install the runtime dependencies (from pyproject.toml) into a virtual environment.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml run.py ./
RUN python -m venv /venv \
 && /venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > requirements.txt \
 && /venv/bin/pip install --no-cache-dir -r requirements.txt

# Run stage: just the venv, the code and the content, as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/venv/bin:$PATH \
    SELVHJELP_DATA_DIR=/data
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin selvhjelp \
 && mkdir -p /data && chown selvhjelp /data
WORKDIR /app
COPY --from=build /venv /venv
COPY bot ./bot
COPY flows ./flows
COPY config.yaml ./
USER selvhjelp
# The database and the generated key live here; mount a volume so they survive upgrades.
VOLUME ["/data"]
# Webhook mode listens here (see config.yaml telegram.webhook.port).
EXPOSE 8443
# Needs TELEGRAM_BOT_TOKEN (and SELVHJELP_SECRET_KEY is recommended) in the environment.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
