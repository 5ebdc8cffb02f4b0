#ifndef DUBDECK_ALSA_QUIET_H
#define DUBDECK_ALSA_QUIET_H
#include <stddef.h>

/* ALSA prints its own errors on stderr ("ALSA lib pcm.c:… Unknown PCM …"), which would scroll over
 * the desk. This routes them (snd_lib_error_set_handler) into a buffer that the desk shows as one
 * status-line message. The handler is variadic, so it lives in C. */
void dd_alsa_quiet_install(void);
/* Copies the oldest message not yet taken into buf (NUL-terminated) and returns its length, or 0. */
size_t dd_alsa_take_message(char *buf, size_t size);

#endif
