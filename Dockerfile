# The platform's container image, built from the lock files (uv.lock, package-lock.json).
#
#   docker build -t jingxin .
#   docker run --env-file .env -p 8000:8000 -v jingxin-data:/var/lib/jingxin jingxin
#
# It runs `jingxin serve` as the unprivileged user `jingxin`. For production, point
# JINGXIN_WAREHOUSE and JINGXIN_DATABASE_URL at PostgreSQL (docs/deployment.md); with the
# embedded default the stores live in the volume /var/lib/jingxin.

# ---- browser libraries from npm (no CDN at run time) -----------------------------------------
FROM node:22-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# ---- Python environment from uv.lock ---------------------------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==0.13.8"
WORKDIR /app
# Dependencies first (a layer that changes only with the lock file), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY scripts/vendor_assets.py ./scripts/vendor_assets.py
COPY --from=assets /build/node_modules ./node_modules
RUN uv sync --frozen --no-dev \
    && .venv/bin/python scripts/vendor_assets.py \
    && .venv/bin/python scripts/vendor_assets.py --check \
    && rm -rf node_modules

# ---- run time ---------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
RUN groupadd --system jingxin && useradd --system --gid jingxin --home-dir /var/lib/jingxin jingxin \
    && mkdir -p /var/lib/jingxin && chown jingxin:jingxin /var/lib/jingxin
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    JINGXIN_HOME=/var/lib/jingxin \
    JINGXIN_HOST=0.0.0.0 \
    JINGXIN_PORT=8000 \
    JINGXIN_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER jingxin
VOLUME ["/var/lib/jingxin"]
EXPOSE 8000
CMD ["jingxin", "serve", "--proxy-headers"]
