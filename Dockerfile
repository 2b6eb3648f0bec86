# Netzwerktimer service container. Install steps are the README's (`make venv`),
# without the test extras; data lives in the /data volume.
FROM python:3.11-slim

# make only drives the install; Debian's current version is fine, pinning it would
# break the build whenever the slim image's package index moves on.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml Makefile README.md LICENSE sources.toml ./
COPY aggregator ./aggregator
COPY exporters ./exporters
RUN make venv VENV=/opt/venv EXTRAS=

RUN groupadd --system --gid 10001 netzwerktimer \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data netzwerktimer \
 && mkdir -p /data && chown 10001:10001 /data
USER netzwerktimer

ENV PATH=/opt/venv/bin:$PATH \
    NETZWERKTIMER_CONFIG=/app/sources.toml \
    NETZWERKTIMER_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["netzwerktimer", "serve", "--host", "0.0.0.0", "--port", "8080"]
