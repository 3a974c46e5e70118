/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The scheduler: runs reset jobs on worker threads, one at a time per reset
 * domain, in arrival order, and in parallel across unrelated domains.
 *
 * A job names its domain by the domain's sysfs path below devices/
 * ("pci0000:00/0000:00:01.0"), so ancestry is a path prefix. Two jobs
 * conflict when they have the same domain, or when one is a link reset
 * whose domain is an ancestor of the other's (a link reset at bridge B
 * excludes everything below B for its whole duration). A job starts only
 * when it conflicts with no running job and with no job queued before it:
 * FIFO per domain, nothing overtakes, nothing starves.
 *
 * prepare() is called on the loop thread right before a job would start
 * and may stop it; run() on a worker thread; started() on the loop thread
 * once the worker exists; done() on the loop thread once run() returned
 * (its thread may still be exiting: it is joined right after, so the
 * answer never waits for a thread's exit) or prepare() said no. done() may
 * submit or cancel (what that lets start waits until the finished workers
 * were joined; during scheduler_drain() nothing starts, so a done() must
 * not submit then) but must not drain or free the scheduler: a worker
 * still signals its eventfd after posting its job. The scheduler knows nothing
 * of D-Bus.
 * Cost: a submit, a cancel or a completion takes O(path depth + reset domains
 * below a link job), never O(queue length) (scheduler.c says why).
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Scheduler Scheduler;
typedef struct SchedJob SchedJob;

struct SchedJob {
        char *domain;            /* relpath of the domain (owned by the job's creator) */
        bool link;               /* excludes the domain's subtree */
        /* loop thread, right before the worker: false ends the job without
         * run() (done() follows from the loop, never from inside this call);
         * may be NULL */
        bool (*prepare)(SchedJob *j);
        void (*started)(SchedJob *j); /* loop thread, once the worker runs; may be NULL */
        void (*run)(SchedJob *j);   /* worker thread */
        void (*done)(SchedJob *j);  /* loop thread; the job may be freed in here */
        /* private (scheduler.c) */
        SchedJob *prev, *next;             /* its domain's jobs, in arrival order */
        SchedJob *link_prev, *link_next;   /* its domain's link jobs, in arrival order */
        SchedJob *ready_prev, *ready_next; /* the ready FIFO */
        struct SchedDomain *dom;
        uint64_t seq;                      /* arrival number */
        unsigned blockers;                 /* a queued head of its domain: domains holding it back */
        bool running, ready;
        Scheduler *sched;
};

int scheduler_new(sd_event *e, unsigned max_parallel, Scheduler **ret);
/* Waits for the running jobs and calls their done(), on this thread: a
 * reset in progress cannot be stopped, but its caller still gets the answer.
 * Queued jobs are left to the caller (scheduler_cancel them first). */
void scheduler_drain(Scheduler *s);
/* Drains, then frees. */
Scheduler *scheduler_free(Scheduler *s);

/* Queues the job; it may start right away. */
int scheduler_submit(Scheduler *s, SchedJob *j);
/* Removes a queued job (done() is not called): 0, or -EBUSY if it is
 * already running (a reset in progress cannot be taken back). */
int scheduler_cancel(Scheduler *s, SchedJob *j);

/* Stopping: no job starts from now on (cancelling queued jobs one by one
 * would otherwise let those queued behind them start). */
void scheduler_hold(Scheduler *s);
/* A reload's MaxParallelResets: applies to jobs started from now on. */
void scheduler_set_max_parallel(Scheduler *s, unsigned max_parallel);
unsigned scheduler_n_running(const Scheduler *s);
unsigned scheduler_n_queued(const Scheduler *s);
/* Internal steps taken so far (hash probes, domains visited, jobs started):
 * for the tests and the benchmark, which check the cost per completion. */
uint64_t scheduler_debug_steps(const Scheduler *s);
/* true if a and b may not run at the same time */
bool sched_domains_conflict(const char *a, bool a_link, const char *b, bool b_link);
