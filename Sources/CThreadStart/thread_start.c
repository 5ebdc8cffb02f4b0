#define _GNU_SOURCE
#include "thread_start.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct {
    void *(*body)(void *);
    void *argument;
    cpu_set_t all;
    int widen;
} dd_start;

static void *dd_started(void *p) {
    dd_start s = *(dd_start *)p;
    free(p);
    if (s.widen) sched_setaffinity(0, sizeof s.all, &s.all); /* begun elsewhere; from now on anywhere */
    return s.body(s.argument);
}

int dd_thread_start_elsewhere(void *(*body)(void *), void *argument) {
    dd_start *s = malloc(sizeof *s);
    if (!s) return -1;
    s->body = body;
    s->argument = argument;
    s->widen = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int here = sched_getcpu();
    if (here >= 0 && sched_getaffinity(0, sizeof s->all, &s->all) == 0 && CPU_ISSET(here, &s->all) && CPU_COUNT(&s->all) > 1) {
        cpu_set_t elsewhere = s->all;
        CPU_CLR(here, &elsewhere);
        if (pthread_attr_setaffinity_np(&attr, sizeof elsewhere, &elsewhere) == 0) s->widen = 1;
    }
    pthread_t thread;
    int made = pthread_create(&thread, &attr, dd_started, s);
    pthread_attr_destroy(&attr);
    if (made != 0) free(s);
    return made;
}

int dd_thread_cores_allowed(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}
