#!/usr/bin/env bash
# The one command for an air-gapped GPU node (prepare with `make gpu-kit`, carry .gpu/):
#   bash scripts/gpu_run.sh [--out DIR] [--budget 500] [--stages env,bench-train,bench-infer,profile,train]
#                           [--train "experiment=zoo"] [--tiny]
# (--train defaults to the AdaIN decoder on the kit's photos and paintings, else experiment=zoo.)
# Installs the kit's wheels into a temporary folder (pip --no-index: nothing is downloaded), points the
# VGG loader at the kit's weights, then runs python -m stylenet.bench.gpu_run (see its docstring).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
KIT=${STYLENET_KIT:-.gpu}
if compgen -G "$KIT/wheels/*.whl" > /dev/null; then
    SITE=$(mktemp -d "${TMPDIR:-/tmp}/stylenet-site.XXXXXX")
    trap 'rm -rf "$SITE"' EXIT
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
        --target "$SITE" "$KIT"/wheels/*.whl || { echo "error: installing the kit's wheels from $KIT/wheels failed" >&2; exit 2; }
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    echo "installed $(ls "$KIT"/wheels/*.whl | wc -l) wheels from $KIT/wheels into $SITE"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    echo "no wheels in $KIT/wheels (make gpu-kit): using the installed packages"
fi
if [ -f "$KIT/vgg19_caffe_q_blocks1-4.bin" ] && [ -z "${STYLENET_VGG19_WEIGHTS:-}" ]; then
    export STYLENET_VGG19_WEIGHTS="$PWD/$KIT/vgg19_caffe_q_blocks1-4.bin"
fi
export PYTHONUNBUFFERED=1
"$PYTHON" -m stylenet.bench.gpu_run "$@"
