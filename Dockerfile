# syntax=docker/dockerfile:1
# Build stage: the exact, hashed versions from requirements.lock into a virtual environment, then
# the bot itself built into a wheel and installed without dependencies (it carries flows/ inside
# as bot/flows, and the sample config.yaml as bot/sample_config.yaml).
# tests/general/test_docker_fileset.py assembles what these COPY lines copy and starts the bot
# from it, so a file the image needs but does not copy fails a test, without a container engine.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /venv \
 && /venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md config.yaml ./
COPY bot ./bot
COPY flows ./flows
# hatchling (the build backend) comes from the lock too: nothing unpinned is fetched here.
RUN /venv/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /venv/bin/pip install --no-cache-dir --no-deps --no-index /wheels/*.whl

# Run stage: just the venv (dependencies and the installed bot), as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/venv/bin:$PATH \
    SELVHJELP_DATA_DIR=/data \
    TELEGRAM_WEBHOOK_LISTEN=0.0.0.0
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin selvhjelp \
 && mkdir -p /app /data /data-key && chown selvhjelp /data /data-key && chmod 700 /data /data-key
WORKDIR /app
COPY --from=build /venv /venv
USER selvhjelp
# The config: mount yours and point SELVHJELP_CONFIG (or --config) at it, as deploy/compose.yaml
# does; without one the bot runs on the sample config shipped in the package and logs
# "using the sample config".
# The database lives in /data, the generated key in /data-key (beside it, so a copy of the data
# volume holds no key; README "Secret key"). Mount both as volumes and back them up apart.
VOLUME ["/data", "/data-key"]
# Webhook mode listens here (see config.yaml telegram.webhook.port): plain HTTP, so publish it
# to the host's loopback only (docker run -p 127.0.0.1:8443:8443) behind a TLS reverse proxy.
EXPOSE 8443
# Needs TELEGRAM_BOT_TOKEN (and SELVHJELP_SECRET_KEY is recommended) in the environment.
ENTRYPOINT ["selvhjelp-bot"]
CMD ["run"]
