#!/usr/bin/env bash
# Real load-test clients against `llmemu serve`, each with at least 50 requests and the
# exported tokenizer; prints one summary line per client and exits non-zero on any error.
#
#   scripts/clients-check.sh setup     # venvs for guidellm, aiperf, vllm bench (~5 GB, minutes)
#   scripts/clients-check.sh run       # serve, run the three clients, summarise
#   scripts/clients-check.sh all       # both
#
# Command lines follow each client's own documentation, each verified against a
# stand-in server; the venvs live outside the repository (SCRATCH). docs/clients-check.md
# records a run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LLMEMU=${LLMEMU:-$ROOT/.venv/bin/llmemu}
SCRATCH=${SCRATCH:-/tmp/llmemu-clients}
PY311=${PY311:-python3.11}
TORCH_CPU=${TORCH_CPU:-torch==2.13.0+cpu}   # guidellm needs torch; the CPU wheel, not CUDA's
PORT=${PORT:-8765}
SPEED=${SPEED:-1}
REQUESTS=${REQUESTS:-60}
MODEL=llama-3-8b
URL=http://127.0.0.1:$PORT
TOK=$SCRATCH/tok
OUT=$SCRATCH/out
V() { echo "$SCRATCH/venv-$1"; }

setup() {
  mkdir -p "$SCRATCH"
  [ -x "$(V guidellm)/bin/guidellm" ] || {
    "$PY311" -m venv "$(V guidellm)" && "$(V guidellm)/bin/pip" install -q "$TORCH_CPU" guidellm; }
  [ -x "$(V aiperf)/bin/aiperf" ] || {
    "$PY311" -m venv "$(V aiperf)" && "$(V aiperf)/bin/pip" install -q aiperf; }
  [ -x "$(V vllm)/bin/vllm" ] || {
    # vllm bench serve without the CUDA stack: the wheel with --no-deps, CPU torch, and
    # the pure-Python packages its bench path imports (list from clients.sh).
    "$PY311" -m venv "$(V vllm)"
    "$(V vllm)/bin/pip" install -q "$TORCH_CPU"
    "$(V vllm)/bin/pip" install -q --no-deps vllm
    "$(V vllm)/bin/pip" install -q "transformers<5.21,>=5.16.1" tokenizers numpy aiohttp tqdm pillow \
      pyyaml regex cachetools psutil requests huggingface_hub "fastapi<0.137" starlette uvicorn openai \
      pydantic orjson prometheus_client prometheus-fastapi-instrumentator msgspec pyzmq cloudpickle \
      blake3 py-cpuinfo sentencepiece safetensors protobuf einops partial-json-parser jsonschema filelock \
      pybase64 cbor2 ijson setproctitle python-json-logger watchfiles tiktoken \
      openai-harmony uvloop xgrammar llguidance
  }
}

serve() {
  "$LLMEMU" tokenizer export "$TOK" >/dev/null
  "$LLMEMU" serve --model "$MODEL" --system h100x1 --port "$PORT" --speed "$SPEED" \
    >"$OUT/serve.log" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "$URL/health" >/dev/null && return; sleep 0.2; done
  echo "llmemu serve did not start:"; cat "$OUT/serve.log"; exit 1
}

guidellm() {
  HF_HUB_OFFLINE=1 "$(V guidellm)/bin/guidellm" run \
    --backend kind=openai_http,target=$URL,model=$MODEL \
    --profile kind=concurrent,streams=8 \
    --constraint kind=max_requests,count=$REQUESTS \
    --data kind=synthetic_text,prompt_tokens=64,output_tokens=16 \
    --tokenizer kind=huggingface_auto,model=$TOK \
    --output kind=json,path=$OUT/guidellm.json \
    --disable-console-interactive >"$OUT/guidellm.log" 2>&1
}

aiperf() {
  # No HF_HUB_OFFLINE here: aiperf then treats a local path as a hub id (clients.sh).
  "$(V aiperf)/bin/aiperf" profile \
    --model "$MODEL" --url "$URL" --endpoint-type chat --streaming \
    --tokenizer "$TOK" --use-server-token-count --extra-inputs ignore_eos:true \
    --isl 64 --osl 16 --concurrency 8 --request-count "$REQUESTS" \
    --artifact-dir "$OUT/aiperf" --ui-type none >"$OUT/aiperf.log" 2>&1
}

vllm_bench() {
  "$(V vllm)/bin/vllm" bench serve \
    --backend openai-chat --base-url "$URL" --endpoint /v1/chat/completions \
    --model "$MODEL" --tokenizer "$TOK" \
    --dataset-name random --random-input-len 64 --random-output-len 16 \
    --num-prompts "$REQUESTS" --request-rate 20 --max-concurrency 8 \
    --percentile-metrics ttft,tpot,itl,e2el \
    --save-result --result-dir "$OUT/vllm-bench" --result-filename vllm-bench.json \
    >"$OUT/vllm-bench.log" 2>&1
}

summarise() {
  "$ROOT/.venv/bin/python" - "$OUT" "$URL" <<'EOF'
import json, sys, urllib.request
from pathlib import Path
out = Path(sys.argv[1])
bad = 0
def line(name, ok, errors, extra):
    global bad
    bad += errors or (ok < 50)
    print(f"{name:12} completed {ok:4d}  errors {errors:3d}  {extra}")
try:
    g = json.loads((out / "guidellm.json").read_text())["benchmarks"][0]
    totals = g["metrics"]["request_totals"]
    ttft = g["metrics"]["time_to_first_token_ms"]["successful"]["median"]
    line("guidellm", int(totals["successful"]), int(totals["errored"]) + int(totals["incomplete"]), f"TTFT p50 {ttft:.1f} ms")
except Exception as exc:  # a missing or changed report is a failed check, shown as such
    bad += 1; print("guidellm     no result:", exc)
try:
    a = json.loads((out / "aiperf" / "profile_export_aiperf.json").read_text())
    count = int(a["request_count"]["avg"]); errors = int(a.get("error_request_count", {}).get("avg", 0) or 0)
    line("aiperf", count, errors, f"TTFT p50 {a['time_to_first_token']['p50']:.1f} ms")
except Exception as exc:
    bad += 1; print("aiperf       no result:", exc)
try:
    v = json.loads((out / "vllm-bench" / "vllm-bench.json").read_text())
    line("vllm bench", int(v["completed"]), int(v["num_prompts"]) - int(v["completed"]), f"TTFT p50 {v['median_ttft_ms']:.1f} ms")
except Exception as exc:
    bad += 1; print("vllm bench   no result:", exc)
metrics = urllib.request.urlopen(sys.argv[2] + "/metrics").read().decode()
for ln in metrics.splitlines():
    if ln.startswith("vllm:request_success_total") and not ln.endswith(" 0.0"):
        print("server:", ln)
sys.exit(1 if bad else 0)
EOF
}

run() {
  mkdir -p "$OUT"
  serve
  local rc=0
  guidellm || { echo "guidellm exited $?; see $OUT/guidellm.log"; rc=1; }
  aiperf || { echo "aiperf exited $?; see $OUT/aiperf.log"; rc=1; }
  vllm_bench || { echo "vllm bench exited $?; see $OUT/vllm-bench.log"; rc=1; }
  summarise || rc=1
  return $rc
}

case "${1:-all}" in
  setup) setup ;;
  run) run ;;
  all) setup; run ;;
  *) echo "usage: $0 setup|run|all" >&2; exit 2 ;;
esac
