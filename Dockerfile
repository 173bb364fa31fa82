# One image for every llmemu service; the command chooses which (docker-compose.yml):
#   python gateway/main.py | python scheduler/main.py | python device-workers/main.py
# and `llmemu serve ...` for the embedded default.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY services ./services
# gcc builds the offline engine's compiled loop (setup.py); it leaves the image afterwards.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
    && pip install -q '.[distributed]' \
    && apt-get purge -y -qq gcc libc6-dev && apt-get autoremove -y -qq \
    && rm -rf /var/lib/apt/lists/*
COPY gateway ./gateway
COPY scheduler ./scheduler
COPY device-workers ./device-workers
COPY examples ./examples
RUN useradd --system --uid 10001 llmemu
USER llmemu
CMD ["python", "gateway/main.py"]
