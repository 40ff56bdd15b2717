#!/usr/bin/env bash
# The main job on a fresh machine: set-up, then deploy blueprints/hello.yaml on the embedded default
# (a local Temporal dev server and worker started in the background, the local Docker engine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/berth deploy "${1:-blueprints/hello.yaml}"
