#define _GNU_SOURCE
#include "dubdeck_interrupt.h"
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdatomic.h>
#include <pthread.h>
#include <time.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>

#define DD_PATH 4096
/* The registries of temporaries and child process groups: chunks of slots allocated as needed and
 * never freed, so the handler can walk them at any moment (no lock: a signal handler cannot take
 * one). A slot is claimed with a compare-and-swap (any thread), published after its path is written,
 * and released by a plain store: thread-safe, and as large as the process needs (64 × 4096 slots). */
#define DD_CHUNK 64
#define DD_CHUNKS 4096

enum { FREE = 0, WRITING = 1, READY = 2 };
struct path_slot { _Atomic int state; int is_dir; char path[DD_PATH]; };
struct child_slot { _Atomic pid_t pgid; };

static struct path_slot *_Atomic path_chunks[DD_CHUNKS];
static struct child_slot *_Atomic child_chunks[DD_CHUNKS];

static volatile sig_atomic_t requested = 0;
static volatile sig_atomic_t polling = 0;
/* Set once the process is ending: no child is started after it, and the children being started
 * when it was set are waited for (up to 200 ms) so that their groups are registered, then killed. */
static _Atomic int exiting = 0;
static _Atomic int spawning = 0;

int dd_spawn_begin(void) {
    atomic_fetch_add(&spawning, 1);
    if (atomic_load(&exiting)) {
        atomic_fetch_sub(&spawning, 1);
        return -1;
    }
    return 0;
}

void dd_spawn_end(void) { atomic_fetch_sub(&spawning, 1); }

static void stop_spawning(void) {
    atomic_store(&exiting, 1);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 200 && atomic_load(&spawning) > 0; i++) nanosleep(&ms, NULL);
}

/* Chunk c, allocated by whoever needs it first (the loser of a race frees its own). */
static void *chunk(void *_Atomic *table, int c, size_t size) {
    void *p = atomic_load(&table[c]);
    if (p) return p;
    void *fresh = calloc(DD_CHUNK, size);
    if (!fresh) return NULL;
    void *expected = NULL;
    if (atomic_compare_exchange_strong(&table[c], &expected, fresh)) return fresh;
    free(fresh);
    return expected;
}

void dd_kill_children(void) {
    for (int c = 0; c < DD_CHUNKS; c++) {
        struct child_slot *k = atomic_load(&child_chunks[c]);
        if (!k) break;
        for (int i = 0; i < DD_CHUNK; i++) {
            pid_t g = atomic_load(&k[i].pgid);
            if (g > 0) kill(-g, SIGKILL);
        }
    }
}

/* A registered directory is ours (a mkdtemp'd engine folder): what a program we ran left in it
 * beside the files we named goes too, one level deep (a link is removed, never followed), with
 * calls a signal handler may make (open, getdents64, unlinkat, close). */
static void empty_directory(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096] __attribute__((aligned(8)));
    for (int pass = 0; pass < 4; pass++) {
        int removed = 0;
        lseek(fd, 0, SEEK_SET);
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0) break;
            for (long off = 0; off < n;) {
                struct entry { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
                const char *name = d->name;
                if (!(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))) {
                    if (unlinkat(fd, name, 0) == 0 || unlinkat(fd, name, AT_REMOVEDIR) == 0) removed++;
                }
                off += d->reclen;
            }
        }
        if (!removed) break;
    }
    close(fd);
}

void dd_empty_directory(const char *path) { empty_directory(path); }

static void remove_paths(int directories) {
    for (int c = 0; c < DD_CHUNKS; c++) {
        struct path_slot *p = atomic_load(&path_chunks[c]);
        if (!p) break;
        for (int i = 0; i < DD_CHUNK; i++) {
            if (atomic_load(&p[i].state) != READY || p[i].is_dir != directories) continue;
            if (directories) { empty_directory(p[i].path); rmdir(p[i].path); } else unlink(p[i].path);
        }
    }
}

void dd_exit_cleanup(void) {
    stop_spawning();
    dd_kill_children();
    remove_paths(0);
    remove_paths(1);
}

static void on_interrupt(int sig) {
    requested = 1;
    if (polling && sig == SIGINT) return;
    stop_spawning();
    dd_kill_children();
    /* Files first, then directories (registered after their contents are gone or empty). */
    remove_paths(0);
    remove_paths(1);
    static const char msg[] = "dubdeck: interrupted\n";
    static const char term[] = "dubdeck: terminated\n";
    ssize_t ignored = sig == SIGINT ? write(2, msg, sizeof msg - 1) : write(2, term, sizeof term - 1);
    (void)ignored;
    _exit(sig == SIGINT ? 130 : 128 + sig);
}

static void install(int sig, void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Ctrl-C, and SIGTERM/SIGHUP for the command line (the desk installs its own for these two). */
void dd_interrupt_install(void) {
    install(SIGINT, on_interrupt);
    install(SIGTERM, on_interrupt);
    install(SIGHUP, on_interrupt);
}

void dd_interrupt_set_polling(int on) { polling = on ? 1 : 0; }
int dd_interrupt_requested(void) { return requested; }
void dd_interrupt_request(void) { requested = 1; }
void dd_interrupt_clear(void) { requested = 0; }

int dd_cleanup_register(const char *path, int is_directory) {
    size_t n = strlen(path);
    if (n >= DD_PATH) return -1;
    for (int c = 0; c < DD_CHUNKS; c++) {
        struct path_slot *p = chunk((void *_Atomic *)path_chunks, c, sizeof *p);
        if (!p) return -1;
        for (int i = 0; i < DD_CHUNK; i++) {
            int expected = FREE;
            if (!atomic_compare_exchange_strong(&p[i].state, &expected, WRITING)) continue;
            memcpy(p[i].path, path, n + 1);
            p[i].is_dir = is_directory;
            atomic_store(&p[i].state, READY);
            return c * DD_CHUNK + i;
        }
    }
    return -1;
}

void dd_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= DD_CHUNK * DD_CHUNKS) return;
    struct path_slot *p = atomic_load(&path_chunks[slot / DD_CHUNK]);
    if (p) atomic_store(&p[slot % DD_CHUNK].state, FREE);
}

int dd_cleanup_count(void) {
    int n = 0;
    for (int c = 0; c < DD_CHUNKS; c++) {
        struct path_slot *p = atomic_load(&path_chunks[c]);
        if (!p) break;
        for (int i = 0; i < DD_CHUNK; i++) n += atomic_load(&p[i].state) == READY;
    }
    return n;
}

int dd_child_register(pid_t pgid) {
    for (int c = 0; c < DD_CHUNKS; c++) {
        struct child_slot *k = chunk((void *_Atomic *)child_chunks, c, sizeof *k);
        if (!k) return -1;
        for (int i = 0; i < DD_CHUNK; i++) {
            pid_t expected = 0;
            if (atomic_compare_exchange_strong(&k[i].pgid, &expected, pgid)) return c * DD_CHUNK + i;
        }
    }
    return -1;
}

void dd_child_unregister(int slot) {
    if (slot < 0 || slot >= DD_CHUNK * DD_CHUNKS) return;
    struct child_slot *k = atomic_load(&child_chunks[slot / DD_CHUNK]);
    if (k) atomic_store(&k[slot % DD_CHUNK].pgid, 0);
}

/* While a child is started and registered, the signals that would kill its group are held: one
 * that comes in between is delivered once the group is registered (so the handler finds it). */
void dd_signals_hold(sigset_t *saved) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, saved);
}

void dd_signals_release(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }

/* A spawned child starts with no signal held and the default actions (it must not inherit ours). */
int dd_spawn_reset_signals(posix_spawnattr_t *attr) {
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &defaults);
    return POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
}

int dd_spawn_close_from(posix_spawn_file_actions_t *actions, int fd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, fd);
}

static volatile sig_atomic_t termination = 0;
static void on_termination(int sig) { (void)sig; termination = 1; }

void dd_termination_install(void) {
    install(SIGTERM, on_termination);
    install(SIGHUP, on_termination);
}

int dd_termination_requested(void) { return termination; }
