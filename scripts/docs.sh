#!/usr/bin/env bash
# Builds the API reference from the public headers (include/fastws, adapters/*/include/fastws)
# and the guides in docs/ with Doxygen (docs/Doxyfile) into build/docs/html/index.html. Fails on
# any Doxygen warning: an undocumented public declaration, a broken reference. The headers keep
# plain // comments (docs/doxygen_filter.py says which of them document what).
#   scripts/docs.sh
# Environment: DOCS_DIR (build/docs)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v doxygen >/dev/null; then
  echo "doxygen is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
out=${DOCS_DIR:-build/docs}
rm -rf "$out"
mkdir -p "$out"
FASTWS_DOCS_DIR=$out doxygen docs/Doxyfile
echo "API reference: $out/html/index.html"
