#ifndef FERRY_CEVENTPOLL_SHIM_H
#define FERRY_CEVENTPOLL_SHIM_H
// Linux's epoll and eventfd, which Swift's Glibc module does not export. Part of libc: nothing to link.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
