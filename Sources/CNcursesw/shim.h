#ifndef DUBDECK_CNCURSESW_SHIM_H
#define DUBDECK_CNCURSESW_SHIM_H
// What ncursesw.pc's cflags say (-D_DEFAULT_SOURCE -D_XOPEN_SOURCE=600), here rather than through
// pkg-config: SwiftPM refuses those flags with a warning on every build.
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 600
#endif
// The wide-character API (add_wch, get_wch, setcchar) needs this before curses.h.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#endif
