/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A worker thread on a stack the daemon manages: a joined worker's stack is
 * kept for the next one, up to WORKER_STACKS_KEPT of them, and unmapped
 * beyond that.
 *
 * Why not glibc's stacks: glibc keeps the stack of every exited thread for
 * reuse (up to 40 MB), each with the pages its thread touched (its TLS and
 * descriptor at least), so a burst of parallel resets, or the bridge
 * checks at start-up, would leave the idle daemon larger for good. Here
 * the daemon's idle footprint does not depend on how busy it once was.
 *
 * Each stack has a guard page below it. Join every started thread exactly
 * once (worker_thread_join). Any thread may start and join.
 */

#include <pthread.h>
#include <stddef.h>

/* Resets do sysfs writes and short config accesses, a /proc scan reads
 * directories: small stacks keep 32+ parallel resets cheap. */
#define WORKER_STACK_SIZE (256u * 1024u)
/* Resets come one after another far more often than side by side. */
#define WORKER_STACKS_KEPT 2u

typedef struct WorkerThread {
        pthread_t thread;
        void *map;          /* its stack's mapping: guard page, then the stack */
} WorkerThread;

/* Starts fn(arg). Negative errno on failure. */
int worker_thread_start(WorkerThread *w, void *(*fn)(void *), void *arg);
/* Waits for the thread; its stack is kept or unmapped. */
void worker_thread_join(WorkerThread *w);
