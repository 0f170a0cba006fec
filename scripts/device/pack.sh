#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for the GPU machine, which has no npm packages: Node 24 and the
# Node-API header folders the native build needs. Run from the repository root after pnpm install.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
../shared/device/pack native/node_modules/node-addon-api native/node_modules/node-api-headers/include
