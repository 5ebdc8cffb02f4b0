#ifndef DUBDECK_INTERRUPT_H
#define DUBDECK_INTERRUPT_H
#include <sys/types.h>
#include <spawn.h>

/* Ctrl-C (SIGINT) for the command line, in C because a signal handler may only do
 * async-signal-safe things. Two modes:
 *  - immediate: the handler kills the registered child process groups, removes the registered
 *    temporary files and directories, says so on stderr and exits 130;
 *  - polling (long loops that report what they did): the handler only sets a flag that the loop
 *    and the subprocess waiter check, and they stop cleanly. */
void dd_interrupt_install(void);
void dd_interrupt_set_polling(int on);
int dd_interrupt_requested(void);
/* The process stops what it is doing as if Ctrl-C had been pressed, without exiting (the desk's quit). */
void dd_interrupt_request(void);
/* Removes what a directory holds, one level deep, never following a link (async-signal-safe). */
void dd_empty_directory(const char *path);
void dd_interrupt_clear(void);

/* SIGTERM/SIGHUP for the desk: a flag the loop reads (it restores the terminal and leaves). */
void dd_termination_install(void);
int dd_termination_requested(void);

/* Temporary paths to remove if the process is interrupted (or terminated); a slot number, or -1
 * only when memory runs out. Thread-safe; as many as the process needs. */
int dd_cleanup_register(const char *path, int is_directory);
void dd_cleanup_unregister(int slot);
/* How many paths are registered now (the tests). */
int dd_cleanup_count(void);

/* Process groups to kill if the process is interrupted (or terminated), and on every exit. */
int dd_child_register(pid_t pgid);
void dd_child_unregister(int slot);
void dd_kill_children(void);
/* Every exit path: the registered child groups killed, the registered temporaries removed. */
void dd_exit_cleanup(void);

/* Around starting a child: -1 when the process is ending (start nothing); then end it once the
 * child's group is registered. */
int dd_spawn_begin(void);
void dd_spawn_end(void);

/* Signals held while a child is started and registered; a spawned child's signals reset. */
#include <signal.h>
void dd_signals_hold(sigset_t *saved);
void dd_signals_release(const sigset_t *saved);
int dd_spawn_reset_signals(posix_spawnattr_t *attr);

/* Closes every descriptor from `fd` up in a spawned child (posix_spawn_file_actions_addclosefrom_np,
 * which Swift does not see without _GNU_SOURCE): an engine inherits nothing of ours. */
int dd_spawn_close_from(posix_spawn_file_actions_t *actions, int fd);

#endif
