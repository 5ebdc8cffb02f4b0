#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <wchar.h>
#include "dubdeck_shim.h"

int dd_color_pair(int pair) { return (int)COLOR_PAIR(pair); }
unsigned int dd_attr_bold(void) { return (unsigned int)A_BOLD; }
unsigned int dd_attr_reverse(void) { return (unsigned int)A_REVERSE; }
unsigned int dd_attr_underline(void) { return (unsigned int)A_UNDERLINE; }
unsigned int dd_attr_dim(void) { return (unsigned int)A_DIM; }
unsigned int dd_attr_normal(void) { return (unsigned int)A_NORMAL; }
int dd_key_code_yes(void) { return KEY_CODE_YES; }
int dd_key_resize(void) { return KEY_RESIZE; }
int dd_err(void) { return ERR; }

int dd_put_wide(int row, int col, const int32_t *chars, int count, unsigned int attrs, int pair) {
    wchar_t buf[512];
    int drawn = 0;
    attr_set((attr_t)attrs, (short)pair, NULL);
    if (move(row, col) == ERR) return ERR;
    while (drawn < count) {
        int n = count - drawn;
        if (n > 511) n = 511;
        for (int i = 0; i < n; i++) buf[i] = (wchar_t)chars[drawn + i];
        buf[n] = 0;
        addnwstr(buf, n);
        drawn += n;
    }
    attr_set(A_NORMAL, 0, NULL);
    return OK;
}

void dd_screen_size(int *rows, int *cols) {
    *rows = LINES;
    *cols = COLS;
}

void dd_keypad(int on) { keypad(stdscr, on ? TRUE : FALSE); }
