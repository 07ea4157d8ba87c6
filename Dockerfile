# One image for every Pinpoint service (see docker-compose.yml); `make setup` installs as on a laptop.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN make setup
ENV PATH=/app/.venv/bin:/app/node_modules/.bin:$PATH SOLCX_BINARY_PATH=/app/tools/solc
