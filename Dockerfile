# ragd in a container, for users who run containers (ragd itself needs none).
# Debian 12 to build and to run, the same libraries as a bare Debian host.
#   docker build -t ragd .
#   docker run --rm -p 8000:8000 -v ragd-data:/var/lib/ragd \
#     -v "$PWD/models:/app/models:ro" -v "$PWD/../shared/data:/app/data:ro" ragd
# docker-compose.yml runs the whole system (setup, app, app_llm, Prometheus,
# Loki, Grafana).

FROM debian:12-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libmicrohttpd-dev libjansson-dev libmd4c-html0-dev libutf8proc-dev libcsv-dev \
      libopenblas-dev libcurl4-openssl-dev libcmocka-dev zlib1g-dev libstemmer-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build -j"$(nproc)" --target ragd \
 && strip build/ragd

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libmd4c-html0 libutf8proc2 libcsv3 libopenblas0 \
      libcurl4 zlib1g libstemmer0d ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/ragd --create-home ragd
COPY --from=build /src/build/ragd /usr/local/bin/ragd
# Models are mounted, not baked in: scripts/get-model.sh fetches the real
# all-MiniLM-L6-v2 into ./models on a machine with internet.
ENV RAGD_MODEL_DIR=/app/models/all-MiniLM-L6-v2 \
    RAGD_HOST=0.0.0.0
USER ragd
WORKDIR /var/lib/ragd
EXPOSE 8000 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD curl -fsS "http://127.0.0.1:${RAGD_PORT:-8000}/health" || exit 1
ENTRYPOINT ["ragd"]
CMD ["serve", "--data-dir", "/var/lib/ragd"]
