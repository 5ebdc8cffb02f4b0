#!/bin/sh
# Installs the Debian packages dubdeck builds and tests with, when missing.
# Idempotent and quick when everything is there; uses sudo when not root.
set -eu
PACKAGES="pkg-config libncurses-dev libssl-dev libsndfile1-dev libasound2-dev libespeak-ng-dev espeak-ng-data espeak-ng librubberband-dev libsoxr-dev libuchardet-dev sox tmux procps python3 python3-pip locales"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
