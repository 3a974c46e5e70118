/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "worker-thread.h"

int worker_thread_start(WorkerThread *w, void *(*fn)(void *), void *arg) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        pthread_attr_t attr;
        int r;

        *w = (WorkerThread) { .map_size = WORKER_STACK_SIZE + page };
        w->map = mmap(NULL, w->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (w->map == MAP_FAILED) {
                w->map = NULL;
                return -errno;
        }
        /* stacks grow down: an overflow faults instead of writing over
         * whatever lies below */
        if (mprotect(w->map, page, PROT_NONE) < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_attr_init(&attr);
        if (r < 0)
                goto fail;
        r = -pthread_attr_setstack(&attr, (char *) w->map + page, WORKER_STACK_SIZE);
        if (r == 0)
                r = -pthread_create(&w->thread, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        if (r == 0)
                return 0;
fail:
        munmap(w->map, w->map_size);
        w->map = NULL;
        return r;
}

void worker_thread_join(WorkerThread *w) {
        if (!w->map)
                return;
        /* the kernel clears the thread id (CLONE_CHILD_CLEARTID) only once
         * the thread no longer runs on its stack: after join, it is ours */
        pthread_join(w->thread, NULL);
        munmap(w->map, w->map_size);
        w->map = NULL;
}
