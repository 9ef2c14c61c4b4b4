#!/usr/bin/env bash
# Installs semb's build and test dependencies from Debian 12 packages. Idempotent: packages
# already present are not fetched again, and apt-get update runs only when something is missing.
set -euo pipefail
packages=(build-essential cmake pkg-config libcmocka-dev libutf8proc-dev libjansson-dev libdnnl-dev
    zlib1g-dev libzstd-dev liblz4-dev libhnswlib-dev libmicrohttpd-dev)
# data packages for the quickstart: its training corpus (semb corpus) is built from these
packages+=(wordnet-base dict-gcide dict-foldoc dict-jargon)
# test tools: xmllint checks that the model card's SVG loss curve is well-formed XML
packages+=(libxml2-utils)
# semb serve: curl drives the API tests (tests/cli_serve.sh). wrk (bench/serve_bench.sh) and
# clang + libomp-dev (fuzz/run.sh) are installed by those scripts when missing.
packages+=(curl)
# the browser test of the web demo (tests/cli_browser.sh): headless chromium driven over
# WebDriver by a Python standard-library client. About 100 MB more to fetch and unpack, so
# SEMB_SKIP_BROWSER=1 leaves them out (the test then reports itself skipped).
[ "${SEMB_SKIP_BROWSER:-0}" = 1 ] || packages+=(chromium chromium-driver python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
