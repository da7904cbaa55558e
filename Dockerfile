# syntax=docker/dockerfile:1
# maskbot: two stages, so compilers and pip caches never reach the image that runs.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first: this layer is reused until pyproject.toml changes.
COPY pyproject.toml README.md requirements-nodeps.txt ./
RUN mkdir bot camera cli console model storage training \
    && touch bot/__init__.py camera/__init__.py cli/__init__.py console/__init__.py model/__init__.py storage/__init__.py training/__init__.py \
    && pip install --no-cache-dir . \
    && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt \
    && pip uninstall --yes maskbot
COPY bot ./bot
COPY camera ./camera
COPY cli ./cli
COPY console ./console
COPY model ./model
COPY storage ./storage
COPY training ./training
# The bot installs nothing at run time: pip and setuptools (24 MB) stay in this stage.
RUN pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes pip setuptools
# Babel carries every locale's data (33 MB); the bot formats numbers and dates in its own
# languages only (bot/i18n.py's LANGUAGES: tests/test_deploy.py keeps this list the same).
RUN find /opt/venv/lib/python3.11/site-packages/babel/locale-data -name '*.dat' \
    ! -name root.dat ! -name en.dat ! -name es.dat ! -name pt.dat -delete

FROM python:3.11-slim-bookworm AS runtime
# The wheels bundle the libraries they need (ONNX Runtime, PyAV's FFmpeg), so this stage installs no apt packages.
RUN groupadd --system --gid 10001 maskbot \
    && useradd --system --uid 10001 --gid maskbot --home-dir /data --no-create-home maskbot \
    && mkdir /data && chown maskbot:maskbot /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    DATABASE_URL=sqlite:////data/maskbot.db \
    PORT=8080
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]
# Exec form: maskbot itself is PID 1, so the SIGTERM of `docker stop` reaches it.
ENTRYPOINT ["maskbot"]
CMD ["run"]
