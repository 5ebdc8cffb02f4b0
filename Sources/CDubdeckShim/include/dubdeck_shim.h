#ifndef DUBDECK_SHIM_H
#define DUBDECK_SHIM_H
#include <stdint.h>

// curses macros and constants Swift cannot import, as plain functions.
int dd_color_pair(int pair);
unsigned int dd_attr_bold(void);
unsigned int dd_attr_reverse(void);
unsigned int dd_attr_underline(void);
unsigned int dd_attr_dim(void);
unsigned int dd_attr_normal(void);
int dd_key_code_yes(void);
int dd_key_resize(void);
int dd_err(void);
// Draw one run of wide characters at (row, col) with attributes and colour pair.
int dd_put_wide(int row, int col, const int32_t *chars, int count, unsigned int attrs, int pair);
// Terminal size as curses sees it after a resize.
void dd_screen_size(int *rows, int *cols);
// keypad(stdscr, on): stdscr is a C global Swift 6 cannot prove safe.
void dd_keypad(int on);
#endif
