/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * user-limits.c: the queue cap per uid, the per-minute rate with root
 * exempt, and rate windows that expire instead of growing with every uid
 * that ever called. Time is passed in, so the minute is simulated.
 */

#include <errno.h>
#include <glib.h>

#include "config.h"
#include "user-limits.h"
#include "util.h"

#define SEC USEC_PER_SEC

typedef struct Fixture {
        Config config;
        Limits *limits;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
        config_init(&f->config);
        f->config.max_queued_per_user = 3;
        f->config.max_per_minute = 5;
        g_assert_cmpint(limits_new(&f->config, &f->limits), ==, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        limits_free(f->limits);
        config_done(&f->config);
}

static void test_queue_cap(Fixture *f, gconstpointer data) {
        g_autofree char *msg = NULL;

        g_assert_cmpint(limits_admit(f->limits, 1000, 2, 1 * SEC, &msg), ==, 0);
        g_assert_null(msg);
        g_assert_cmpint(limits_admit(f->limits, 1000, 3, 1 * SEC, &msg), ==, -EUSERS);
        g_assert_nonnull(strstr(msg, "MaxQueuedPerUser=3"));
        g_clear_pointer(&msg, g_free);
        /* the admin is capped too: a runaway script of root's is still one queue */
        g_assert_cmpint(limits_admit(f->limits, 0, 3, 1 * SEC, &msg), ==, -EUSERS);
}

static void test_rate(Fixture *f, gconstpointer data) {
        g_autofree char *msg = NULL;

        for (int i = 0; i < 5; i++) {
                g_assert_cmpint(limits_admit(f->limits, 1000, 0, (10 + i) * SEC, &msg), ==, 0);
                limits_note_accepted(f->limits, 1000, (10 + i) * SEC);
        }
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 20 * SEC, &msg), ==, -EUSERS);
        g_assert_nonnull(strstr(msg, "MaxResetsPerMinute=5"));
        /* another uid is not affected */
        g_assert_cmpint(limits_admit(f->limits, 1001, 0, 20 * SEC, NULL), ==, 0);
        /* the first one leaves the window 60 s after it was accepted */
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 69 * SEC, NULL), ==, -EUSERS);
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 70 * SEC + 1, NULL), ==, 0);
}

static void test_root_not_rate_limited(Fixture *f, gconstpointer data) {
        for (int i = 0; i < 50; i++) {
                g_assert_cmpint(limits_admit(f->limits, 0, 0, 1 * SEC, NULL), ==, 0);
                limits_note_accepted(f->limits, 0, 1 * SEC);
        }
        g_assert_cmpuint(limits_n_windows(f->limits, 1 * SEC), ==, 0);
}

static void test_windows_expire(Fixture *f, gconstpointer data) {
        for (uid_t uid = 1000; uid < 1000 + 500; uid++)
                limits_note_accepted(f->limits, uid, 5 * SEC);
        limits_note_accepted(f->limits, 4242, 30 * SEC);
        g_assert_cmpuint(limits_n_windows(f->limits, 30 * SEC), ==, 501);
        /* a minute after their last reset, 500 uids cost nothing */
        g_assert_cmpuint(limits_n_windows(f->limits, 66 * SEC), ==, 1);
        g_assert_cmpuint(limits_n_windows(f->limits, 91 * SEC), ==, 0);
}

/* A reset dropped unrun gives its place in the window back. */
static void test_forget(Fixture *f, gconstpointer data) {
        for (int i = 0; i < 5; i++)
                limits_note_accepted(f->limits, 1000, (10 + i) * SEC);
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 20 * SEC, NULL), ==, -EUSERS);
        limits_forget_accepted(f->limits, 1000, 12 * SEC);
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 20 * SEC, NULL), ==, 0);
        /* forgetting what was never counted changes nothing */
        limits_forget_accepted(f->limits, 1000, 99 * SEC);
        limits_forget_accepted(f->limits, 4242, 10 * SEC);
        limits_note_accepted(f->limits, 1000, 21 * SEC);
        g_assert_cmpint(limits_admit(f->limits, 1000, 0, 22 * SEC, NULL), ==, -EUSERS);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/limits/queue-cap", Fixture, NULL, setup, test_queue_cap, teardown);
        g_test_add("/limits/rate", Fixture, NULL, setup, test_rate, teardown);
        g_test_add("/limits/root-not-rate-limited", Fixture, NULL, setup, test_root_not_rate_limited, teardown);
        g_test_add("/limits/windows-expire", Fixture, NULL, setup, test_windows_expire, teardown);
        g_test_add("/limits/forget", Fixture, NULL, setup, test_forget, teardown);
        return g_test_run();
}
