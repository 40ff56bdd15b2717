#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test, then cleanup.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s typecheck
npm run -s lint
npm test
