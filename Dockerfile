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
    SELVHJELP_DATA_DIR=/data \
    TELEGRAM_WEBHOOK_LISTEN=0.0.0.0
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin selvhjelp \
 && mkdir -p /data /data-key && chown selvhjelp /data /data-key && chmod 700 /data /data-key
WORKDIR /app
COPY --from=build /venv /venv
COPY bot ./bot
COPY flows ./flows
COPY config.yaml ./
USER selvhjelp
# The database lives in /data, the generated key in /data-key (beside it, so a copy of the data
# volume holds no key; README "Secret key"). Mount both as volumes and back them up apart.
VOLUME ["/data", "/data-key"]
# Webhook mode listens here (see config.yaml telegram.webhook.port): plain HTTP, so publish it
# to the host's loopback only (docker run -p 127.0.0.1:8443:8443) behind a TLS reverse proxy.
EXPOSE 8443
# Needs TELEGRAM_BOT_TOKEN (and SELVHJELP_SECRET_KEY is recommended) in the environment.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
