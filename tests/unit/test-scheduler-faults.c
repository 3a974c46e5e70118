/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler when a worker thread cannot be started (issue 12.9):
 * pthread_create is wrapped (-Wl,--wrap=pthread_create) to fail on demand.
 * started() is what makes a request send ResetStarted and stop its queue
 * timer, so it must come only once the worker exists, and once per job
 * however many starts failed before.
 */

#include <errno.h>
#include <glib.h>
#include <pthread.h>

#include "scheduler.h"

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

static int fail_next;     /* how many of the next pthread_create calls fail */
static int n_attempts;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
        n_attempts++;
        if (fail_next > 0) {
                fail_next--;
                return EAGAIN;
        }
        return __real_pthread_create(t, attr, fn, arg);
}

typedef struct Job {
        SchedJob job;
        int n_started, n_run, n_done;
} Job;

static sd_event *loop;
static int n_done_all, n_expected;

static void job_started(SchedJob *j) {
        Job *x = (Job *) j;
        /* the worker exists: it was created before this is called */
        x->n_started++;
}

static void job_run(SchedJob *j) {
        __atomic_add_fetch(&((Job *) j)->n_run, 1, __ATOMIC_SEQ_CST);
}

static void job_done(SchedJob *j) {
        ((Job *) j)->n_done++;
        if (++n_done_all == n_expected)
                sd_event_exit(loop, 0);
}

static Job make_job(const char *domain) {
        return (Job) { .job = { .domain = (char *) domain, .started = job_started, .run = job_run,
                                .done = job_done } };
}

static void run_loop(void) {
        g_assert_cmpint(sd_event_loop(loop), >=, 0);
}

static void test_failed_start_is_retried_once(void) {
        Scheduler *s = NULL;
        Job a = make_job("pci0000:00/0000:00:01.0"), b = make_job("pci0000:00/0000:00:02.0");

        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, 4, &s), ==, 0);
        n_done_all = 0;
        n_expected = 2;

        /* the worker of a cannot be created, twice */
        fail_next = 2;
        n_attempts = 0;
        g_assert_cmpint(scheduler_submit(s, &a.job), ==, 0);
        g_assert_cmpint(n_attempts, >=, 1);
        g_assert_cmpint(a.n_started, ==, 0);     /* no ResetStarted for a reset that is not running */
        g_assert_cmpuint(scheduler_n_running(s), ==, 0);
        g_assert_cmpuint(scheduler_n_queued(s), ==, 1);

        /* the next submit retries a, which fails once more */
        g_assert_cmpint(scheduler_submit(s, &b.job), ==, 0);
        g_assert_cmpint(fail_next, ==, 0);
        g_assert_cmpint(a.n_started, ==, 0);
        /* any later dispatch (a reload's MaxParallelResets here) starts
         * what waits; whatever is left starts when a job finishes */
        scheduler_set_max_parallel(s, 4);
        run_loop();

        g_assert_cmpint(a.n_started, ==, 1);
        g_assert_cmpint(a.n_run, ==, 1);
        g_assert_cmpint(a.n_done, ==, 1);
        g_assert_cmpint(b.n_started, ==, 1);
        g_assert_cmpint(b.n_run, ==, 1);
        g_assert_cmpint(b.n_done, ==, 1);
        g_assert_cmpuint(scheduler_n_running(s), ==, 0);
        g_assert_cmpuint(scheduler_n_queued(s), ==, 0);
        scheduler_free(s);
        loop = sd_event_unref(loop);
}

/* A job that could not start is not forgotten, and cancelling it is still
 * possible (it is queued, not running). */
static void test_failed_start_can_be_cancelled(void) {
        Scheduler *s = NULL;
        Job a = make_job("pci0000:00/0000:00:03.0");

        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, 4, &s), ==, 0);
        fail_next = 1;
        g_assert_cmpint(scheduler_submit(s, &a.job), ==, 0);
        g_assert_cmpint(a.n_started, ==, 0);
        g_assert_cmpint(scheduler_cancel(s, &a.job), ==, 0);
        g_assert_cmpuint(scheduler_n_queued(s), ==, 0);
        g_assert_cmpint(a.n_run, ==, 0);
        g_assert_cmpint(a.n_done, ==, 0);
        scheduler_free(s);
        loop = sd_event_unref(loop);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/scheduler-faults/failed-start-is-retried-once", test_failed_start_is_retried_once);
        g_test_add_func("/scheduler-faults/failed-start-can-be-cancelled", test_failed_start_can_be_cancelled);
        return g_test_run();
}
