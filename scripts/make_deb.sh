#!/bin/sh
# make deb: make_deb.sh STATIC VERSION — stages `make install` under /usr, adds what Debian asks of a
# package (compressed man page, copyright, changelog, stripped binary), computes Depends with
# dpkg-shlibdeps and builds dubdeck_VERSION_ARCH.deb with dpkg-deb in $STATIC/.
set -eu
static="$1"; version="$2"
here=$(cd "$(dirname "$0")/.." && pwd)
arch=$(dpkg --print-architecture)
stage="$static/deb/root"
rm -rf "$static/deb" && mkdir -p "$stage"
sh "$here/scripts/install.sh" install "$stage" /usr "$static" >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/dubdeck"
gzip -9n "$stage/usr/share/man/man1/dubdeck.1"
# A completion is sourced, not run: no #! line (lintian bash-completion-with-hashbang).
sed -i '1{/^#!/d}' "$stage/usr/share/bash-completion/completions/dubdeck"
doc="$stage/usr/share/doc/dubdeck"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: dubdeck
Source: https://example.org/dubdeck

Files: *
Copyright: 2026 the dubdeck developers
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
printf 'dubdeck (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- dubdeck developers <dubdeck@example.org>  Wed, 25 Nov 2026 00:00:00 +0000\n' "$version" "$version" \
    | gzip -9n > "$doc/changelog.gz"
# Python's scripts are data here (python3 runs them): not executable, no shebang needed to run.
chmod 0644 "$stage/usr/share/dubdeck/"*.py
find "$stage" -type d -exec chmod 0755 {} +
# Depends from the binary's shared libraries, as Debian's own tools compute it.
work="$static/deb/shlibs"
mkdir -p "$work/debian"
printf 'Source: dubdeck\n\nPackage: dubdeck\nArchitecture: any\n' > "$work/debian/control"
# The libraries CLazyLibs opens at run time (dlopen) are not named by the binary: a probe
# object linked against them lets dpkg-shlibdeps compute their packages and versions too.
printf '' > "$work/probe.c"
"${CC:-$(command -v cc || command -v clang)}" -shared -o "$work/probe.so" "$work/probe.c" -Wl,--no-as-needed -lespeak-ng -lpq -lsndfile -lsoxr -lrubberband -lasound -luchardet -lxml2 -lwebrtc_audio_processing
depends=$(cd "$work" && dpkg-shlibdeps -O "$(cd "$here" && pwd)/$stage/usr/bin/dubdeck" "probe.so" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "make_deb: dpkg-shlibdeps computed no Depends" >&2; exit 1; }
size=$(du -sk "$stage/usr" | cut -f1)
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: dubdeck
Version: $version
Architecture: $arch
Maintainer: dubdeck developers <dubdeck@example.org>
Installed-Size: $size
Depends: $depends
Recommends: python3, espeak-ng-data
Section: sound
Priority: optional
Homepage: https://example.org/dubdeck
Description: terminal review desk for machine-dubbed episodes
 dubdeck opens the job directory a dubbing pipeline leaves per episode and
 lets a reviewer edit the dub text, approve and lock lines, regenerate one
 line's speech fitted to its time slot and hear it at once, keyboard only.
 It keeps an encrypted character voice memory (a file, or PostgreSQL for a
 studio) so each character keeps its identity and voice across a series.
CONTROL
deb="$static/dubdeck_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
