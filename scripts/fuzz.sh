#!/bin/sh
# make fuzz: builds one libFuzzer binary over DubdeckCore's sources and runs each parser target for
# FUZZ_SECONDS (default 20) seconds. Crashes are written to .build-fuzz/crash-* and fail the run.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-20}"
OUT=.build-fuzz
mkdir -p "$OUT"
INC=""
for m in CCrypto CSndfile CAlsa CEspeak CRubberband CSoxr CUchardet CLibpq; do INC="$INC -I Sources/$m"; done
INC="$INC -I Sources/CInterrupt/include"
clang -O1 -fsanitize=address -c Sources/CInterrupt/interrupt.c -I Sources/CInterrupt/include -o "$OUT/interrupt.o"
# The C targets the Swift sources call: the lazily opened libraries, ALSA's quiet handler, the
# encoder's kernels.
clang -O1 -fsanitize=address -c Sources/CLazyLibs/lazy_libs.c -I Sources/CLazyLibs/include -I /usr/include/libxml2 -o "$OUT/lazy_libs.o"
clang -O1 -fsanitize=address -c Sources/CAlsaQuiet/alsa_quiet.c -I Sources/CAlsaQuiet/include -I Sources/CLazyLibs/include -o "$OUT/alsa_quiet.o"
clang -O2 -fsanitize=address -c Sources/CKernels/kernels.c -I Sources/CKernels/include -o "$OUT/kernels.o"
INC="$INC -I Sources/CAlsaQuiet/include -I Sources/CLazyLibs/include"
# SwiftPM makes these C targets' module maps; for swiftc they are written here.
for mh in CLazyLibs:lazy_libs.h CKernels:ckernels.h; do
    m=${mh%%:*}; h=${mh#*:}
    mkdir -p "$OUT/modules/$m"
    printf 'module %s {\n    header "%s"\n    export *\n}\n' "$m" "$PWD/Sources/$m/include/$h" > "$OUT/modules/$m/module.modulemap"
    INC="$INC -I $OUT/modules/$m"
done
# Sonames.swift as the build makes it (SonamePlugin runs soname-probe; here it is run by hand).
swift build --product soname-probe >/dev/null
"$(swift build --show-bin-path)/soname-probe" "$OUT/Sonames.swift"
# The keymap parser lives in DubdeckTUI; -D FUZZ compiles it into the same module.
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name DubdeckCore -package-name dubdeck -D FUZZ $INC \
    $(find Sources/DubdeckBase Sources/DubdeckJob Sources/DubdeckAudio Sources/DubdeckCharacters Sources/DubdeckCore -name '*.swift' ! -name Exports.swift | sort) \
    Sources/DubdeckTUI/Keys/*.swift Tests/TestSupport/JSONOracle.swift Fuzz/FuzzTargets.swift "$OUT/Sonames.swift" \
    "$OUT/interrupt.o" "$OUT/alsa_quiet.o" "$OUT/lazy_libs.o" "$OUT/kernels.o" -ldl \
    -lcrypto -lsndfile -lasound -lespeak-ng -lrubberband -lsoxr -luchardet -lxml2 -lwebrtc_audio_processing -o "$OUT/fuzz-dubdeck"
status=0
for t in json translated store history historyend srt vtt ass envelope charstore npy keymap sanitizer names; do
    mkdir -p "$OUT/corpus-$t"
    if [ -d "Fuzz/seeds/$t" ]; then cp -n Fuzz/seeds/"$t"/* "$OUT/corpus-$t/" 2>/dev/null || true; fi
    echo "fuzz: $t (${SECONDS_EACH}s)"
    if ! FUZZ_TARGET=$t "$OUT/fuzz-dubdeck" -max_total_time="$SECONDS_EACH" -max_len=4096 \
        -artifact_prefix="$OUT/crash-$t-" "$OUT/corpus-$t" > "$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FOUND A CRASH (see $OUT/$t.log)"
        tail -30 "$OUT/$t.log"
        status=1
    else
        grep -E "^#[0-9]+.*(DONE|pulse)" "$OUT/$t.log" | tail -1 || true
    fi
done
exit $status
