#!/usr/bin/env bash
# Packs what bench/gpu needs on the lent GPU machine, which has no Node and no registry (see the
# device tool's README): .gpukit/ holds this machine's node (xz), one esbuild bundle per bench
# (Lathe inlined), the native addon, and the `webgpu` package's index.js with its linux-x64
# dawn.node; .gl/ the Vulkan loader debs. Both folders are ignored by git (.git/info/exclude) and
# travel as `carry`. The bundles sit at .gpukit/bench/gpu/, as in the repo, so that their relative
# paths (package.json for the version) resolve inside the kit. Run from the repo root after `npm ci`; bench/gpu/README.md has the command
# to run there.
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in /.gpukit/ /.gl/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .gpukit && mkdir -p .gpukit/bench/gpu .gpukit/node_modules/webgpu/dist/linux-x64 .gl /tmp/amd64/partial
npx tsc -p . >/dev/null
for b in gemm gpt-step mlp-step; do
  npx esbuild "bench/gpu/$b.mjs" --bundle --platform=node --format=esm --log-level=warning \
    --external:webgpu --external:onnxruntime-node --outfile=".gpukit/bench/gpu/$b.mjs" \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
done
cp build/Release/lathe_native.node .gpukit/
cp package.json .gpukit/  # src/version.ts reads ../../package.json from the bundle
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .gpukit/node_modules/webgpu/
cp node_modules/webgpu/dist/linux-x64/dawn.node .gpukit/node_modules/webgpu/dist/linux-x64/
xz -T2 -6 -c "$(command -v node)" > .gpukit/node.xz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  apt-get $o update -q >/dev/null && (cd .gl && apt-get $o download libvulkan1 >/dev/null)
fi
du -sh .gpukit .gl
