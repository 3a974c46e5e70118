/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A worker thread on a stack of its own, mapped when the thread starts and
 * unmapped when it is joined.
 *
 * Why not glibc's stacks: glibc keeps the stack of every exited thread for
 * reuse (up to 40 MB), each with the pages its thread touched (its TLS and
 * descriptor at least), so a burst of parallel resets, or the bridge
 * checks at start-up, would leave the idle daemon larger for good. Here
 * the daemon's idle footprint does not depend on how busy it once was.
 *
 * The stack has a guard page below it. Join every started thread exactly
 * once (worker_thread_join); the stack is gone after that.
 */

#include <pthread.h>
#include <stddef.h>

/* Resets do sysfs writes and short config accesses, a /proc scan reads
 * directories: small stacks keep 32+ parallel resets cheap. */
#define WORKER_STACK_SIZE (256u * 1024u)

typedef struct WorkerThread {
        pthread_t thread;
        void *map;          /* the mapping: guard page, then the stack */
        size_t map_size;
} WorkerThread;

/* Starts fn(arg). Negative errno on failure, nothing left mapped then. */
int worker_thread_start(WorkerThread *w, void *(*fn)(void *), void *arg);
/* Waits for the thread and unmaps its stack. */
void worker_thread_join(WorkerThread *w);
