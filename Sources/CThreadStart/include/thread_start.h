#ifndef DUBDECK_THREAD_START_H
#define DUBDECK_THREAD_START_H
/* A detached thread begun on a core other than the caller's (where there is one), then free to
 * move: a new thread woken beside a busy one otherwise waits there for a time slice (milliseconds)
 * before the scheduler moves it to an idle core. Returns 0, or the pthread_create error. */
int dd_thread_start_elsewhere(void *(*body)(void *), void *argument);

/* How many cores the calling thread may run on (its affinity), or -1. */
int dd_thread_cores_allowed(void);
#endif
