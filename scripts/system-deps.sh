#!/usr/bin/env bash
# The one list of Debian packages the test suite drives as real components, and the one place
# that installs them. Used by `make test` (and so by `.ci/run`) and by newcomers:
#
#   scripts/system-deps.sh           install what is missing (root with apt), else print the
#                                    exact command to run and exit 1
#   scripts/system-deps.sh --check   only report: exit 0 when everything is present
#   scripts/system-deps.sh --list    print the package names
set -euo pipefail

# chromium + a CJK font: browser tests and their screenshots (without a CJK font, Chinese
# pages render as boxes); gettext: compilemessages; docker-compose: the compose file check;
# nginx + pgbouncer: make serve's production topology (and its test); libreoffice-calc-nogui:
# our XLSX files opened headless as users open them.
# libnginx-mod-rtmp + ffmpeg: the RTMP ingest and HLS origin (STREAM_RTMP_PORT) and its test.
# poppler-utils + zbar-tools: the 学时证明 PDFs read back as text and their QR decoded.
PACKAGES=(chromium fonts-wqy-microhei gettext docker-compose make nginx pgbouncer libreoffice-calc-nogui
    libnginx-mod-rtmp ffmpeg poppler-utils zbar-tools)

mode="${1:-install}"
case "$mode" in
    --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
    --check | install) ;;
    *) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if (( ${#missing[@]} == 0 )); then
    echo "system packages: all present (${#PACKAGES[@]})"
    exit 0
fi

command_line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ "$mode" == "--check" ]]; then
    echo "system packages missing: ${missing[*]}" >&2
    echo "install them with: sudo sh -c '$command_line'" >&2
    exit 1
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "system packages missing: ${missing[*]}" >&2
    echo "this script installs them only as root on a Debian machine; run:" >&2
    echo "    sudo sh -c '$command_line'" >&2
    exit 1
fi

echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "system packages: installed ${missing[*]}"
