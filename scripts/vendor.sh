#!/usr/bin/env bash
# Re-fetch the vendored front-end libraries into static/vendor/ (see static/vendor/README.md).
# Uses `npm pack` (the npm registry only; nothing is installed, no node_modules).
# Bump a version here and in static/vendor/README.md, run this, check the diff, commit.
set -euo pipefail
cd "$(dirname "$0")/.."

HLS=1.7.4
CHART=4.6.1
AXE=4.14.1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "hls.js@$HLS" "chart.js@$CHART" "axe-core@$AXE" >/dev/null)
for tgz in "$tmp"/*.tgz; do
    mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"
done

V=static/vendor
mkdir -p "$V/hls.js" "$V/chart.js" "$V/axe-core"
# the light build (no subtitles, alternate audio, DRM, CMCD: the portal uses none): 120 KB
# gzipped instead of 189 KB, loaded only where the browser has no native HLS
cp "$tmp/hls.js-$HLS/package/dist/hls.light.min.js" "$tmp/hls.js-$HLS/package/LICENSE" "$V/hls.js/"
cp "$tmp/chart.js-$CHART/package/dist/chart.umd.min.js" "$tmp/chart.js-$CHART/package/LICENSE.md" \
    "$V/chart.js/"
cp "$tmp/axe-core-$AXE/package/axe.min.js" "$tmp/axe-core-$AXE/package/LICENSE" \
    "$tmp/axe-core-$AXE/package/LICENSE-3RD-PARTY.txt" "$V/axe-core/"
# The .map files are not shipped: drop the references, or ManifestStaticFilesStorage's
# collectstatic fails looking for them.
sed -i '/^\/\/# sourceMappingURL=/d' "$V/hls.js/hls.light.min.js" "$V/chart.js/chart.umd.min.js"
sha256sum "$V"/*/*.js
