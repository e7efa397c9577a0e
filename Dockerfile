# Crossclaim web or worker image; the same steps as `make install` + `make run`.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk curl \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 crossclaim
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY app ./app
COPY migrations ./migrations
COPY static ./static
COPY pwa ./pwa
RUN pip install --no-cache-dir -c constraints.txt .

ENV CROSSCLAIM_DATA_DIR=/data
# matplotlib keeps its font list here (the app user has no home to write to)
ENV MPLCONFIGDIR=/tmp/matplotlib
RUN mkdir -p /data && chown crossclaim /data
USER crossclaim
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["sh", "-c", "crossclaim migrate && crossclaim serve --host 0.0.0.0 --port 8000"]
