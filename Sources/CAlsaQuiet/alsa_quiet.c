#include "dubdeck_alsa_quiet.h"
#include <alsa/asoundlib.h>
#include "lazy_libs.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last[512];
static int have = 0;

static void on_alsa_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lock);
    if (!have) {
        /* The first message of a burst is the cause; the rest repeat it from other layers. */
        if (err) snprintf(last, sizeof last, "%s (%s)", text, dd_snd_strerror(err));
        else snprintf(last, sizeof last, "%s", text);
        have = 1;
    }
    pthread_mutex_unlock(&lock);
}

/* Called once ALSA is loaded (dd_alsa_load). */
void dd_alsa_quiet_install(void) { dd_snd_lib_error_set_handler(on_alsa_error); }

size_t dd_alsa_take_message(char *buf, size_t size) {
    size_t n = 0;
    pthread_mutex_lock(&lock);
    if (have && size > 0) {
        n = strlen(last);
        if (n >= size) n = size - 1;
        memcpy(buf, last, n);
        buf[n] = 0;
        have = 0;
    }
    pthread_mutex_unlock(&lock);
    return n;
}
