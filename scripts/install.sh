#!/bin/sh
# make install / make uninstall: install.sh install|uninstall DESTDIR PREFIX STATIC
# Installs the staged binary, man page and completions ($STATIC/release, $STATIC/out), the keymaps,
# the converter and reference scripts, and the docs. Uninstall removes exactly these.
set -eu
action="$1"; destdir="$2"; prefix="$3"; static="$4"
root="$destdir$prefix"
# zsh looks in vendor-completions on Debian for /usr, in site-functions for /usr/local.
if [ "$prefix" = /usr ]; then zshdir=share/zsh/vendor-completions; else zshdir=share/zsh/site-functions; fi
files="bin/dubdeck share/man/man1/dubdeck.1 share/bash-completion/completions/dubdeck $zshdir/_dubdeck share/fish/vendor_completions.d/dubdeck.fish"
here=$(cd "$(dirname "$0")/.." && pwd)
case "$action" in
install)
    install -D -m 0755 "$static/release/dubdeck" "$root/bin/dubdeck"
    install -D -m 0644 "$static/out/man/dubdeck.1" "$root/share/man/man1/dubdeck.1"
    install -D -m 0644 "$static/out/completion.bash" "$root/share/bash-completion/completions/dubdeck"
    install -D -m 0644 "$static/out/completion.zsh" "$root/$zshdir/_dubdeck"
    install -D -m 0644 "$static/out/completion.fish" "$root/share/fish/vendor_completions.d/dubdeck.fish"
    for k in "$here"/keymaps/*.keys; do install -D -m 0644 "$k" "$root/share/dubdeck/keymaps/$(basename "$k")"; done
    install -D -m 0644 "$here/scripts/ge2e_convert.py" "$root/share/dubdeck/ge2e_convert.py"
    install -D -m 0644 "$here/scripts/tts_server.py" "$root/share/dubdeck/tts_server.py"
    install -D -m 0644 "$here/README.md" "$root/share/doc/dubdeck/README.md"
    for d in "$here"/docs/*.md; do install -D -m 0644 "$d" "$root/share/doc/dubdeck/$(basename "$d")"; done
    echo "installed dubdeck into $root"
    ;;
uninstall)
    for f in $files; do rm -f "$root/$f"; done
    rm -rf "$root/share/dubdeck" "$root/share/doc/dubdeck"
    # In a staging DESTDIR, the folders this left empty go too (never on the live system:
    # an empty /usr/local/bin is Debian's, not ours).
    [ -n "$destdir" ] && for d in bin share/man/man1 share/man share/bash-completion/completions share/bash-completion $zshdir share/zsh \
             share/fish/vendor_completions.d share/fish share/doc share; do
        rmdir "$root/$d" 2>/dev/null || true
    done
    # …and the PREFIX folders inside the DESTDIR, up to it.
    d="$root"
    while [ -n "$destdir" ] && [ "$d" != "$destdir" ] && [ "${#d}" -gt "${#destdir}" ]; do
        rmdir "$d" 2>/dev/null || break
        d=$(dirname "$d")
    done
    echo "removed dubdeck from $root"
    ;;
*) echo "usage: install.sh install|uninstall DESTDIR PREFIX STATIC" >&2; exit 64 ;;
esac
