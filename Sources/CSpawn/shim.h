#ifndef FERRY_CSPAWN_SHIM_H
#define FERRY_CSPAWN_SHIM_H
// Descriptor-safe process and socket calls that Swift's Glibc module does not export. glibc (2.34+) has
// them behind _GNU_SOURCE; defining that here would clash with how other modules saw the same headers, so
// the prototypes are declared directly. Part of libc: nothing to link.
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

extern int pipe2(int fds[2], int flags);
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int lowest);
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);

// A pipe whose ends are close-on-exec from the start: no other thread's spawn can inherit them.
static inline int ferry_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

// A stream socket, close-on-exec from the start.
static inline int ferry_stream_socket_cloexec(int domain) { return socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0); }

// accept with the new socket close-on-exec and non-blocking from the start.
static inline int ferry_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length) {
  return accept4(fd, address, length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

// In the child: close every descriptor from `lowest` up (nothing but stdin/stdout/stderr is passed on).
static inline int ferry_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
  return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

// In the child: change to `path` before exec.
static inline int ferry_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
  return posix_spawn_file_actions_addchdir_np(actions, path);
}
#endif
