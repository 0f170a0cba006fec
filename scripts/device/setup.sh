#!/usr/bin/env bash
# On the GPU machine (no npm registry): links the workspace packages into each other's
# node_modules the way pnpm would, then builds the CUDA variant of the native addon from source.
# Usage (repository root): source .device/env.sh && bash scripts/device/setup.sh [--arch=90a]
set -euo pipefail
cd "$(dirname "$0")/../.."
arch="${1:---arch=90a}"
for pkg in native packages/* examples/*; do
  [ -f "$pkg/package.json" ] || continue
  for dep in $(node -e '
    const p = require(process.argv[1]);
    const deps = { ...p.dependencies, ...p.devDependencies };
    console.log(Object.keys(deps).filter((d) => d.startsWith("@tessera/")).join(" "));
  ' "./$pkg/package.json"); do
    target=$(grep -l "\"name\": \"$dep\"" native/package.json packages/*/package.json | head -1)
    [ -n "$target" ] || { echo "setup: no workspace package named $dep" >&2; exit 1; }
    mkdir -p "$pkg/node_modules/@tessera"
    ln -sfn "$(pwd)/$(dirname "$target")" "$pkg/node_modules/$dep"
  done
done
rm -rf native/build/cmake-on  # a clean build: copied sources may carry older timestamps than stale objects
node native/scripts/build.ts --cuda=ON "$arch"
