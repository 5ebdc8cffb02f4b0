#!/bin/sh
# Installs the Debian packages dubdeck builds and tests with, when missing.
# Idempotent and quick when everything is there; uses sudo when not root.
set -eu
PACKAGES="pkg-config libncurses-dev libssl-dev libsndfile1-dev libasound2-dev libespeak-ng-dev espeak-ng-data espeak-ng librubberband-dev libsoxr-dev libuchardet-dev libxml2-dev libwebrtc-audio-processing-dev apertium apertium-eng-spa libpq-dev postgresql dpkg-dev lintian man-db sox tmux procps python3 python3-pip locales"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# The GE2E speaker encoder's weights: converted once from the resemblyzer 0.1.4 wheel (PyPI), never
# committed. Without them the features that need speaker embeddings say how to get them.
MODEL="${XDG_DATA_HOME:-$HOME/.local/share}/dubdeck/models/ge2e-resemblyzer-0.1.4.f32"
if [ ! -f "$MODEL" ]; then
    python3 "$(dirname "$0")/ge2e_convert.py" || echo "deps: warning: the speaker encoder's model could not be made (scripts/ge2e_convert.py)"
fi
