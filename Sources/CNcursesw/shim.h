#ifndef DUBDECK_CNCURSESW_SHIM_H
#define DUBDECK_CNCURSESW_SHIM_H
// The wide-character API (add_wch, get_wch, setcchar) needs this before curses.h.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#endif
