/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail's refusal rate limit, driven with its own clock. */

#include <glib.h>

#include "audit.h"
#include "util.h"

#define SEC USEC_PER_SEC

typedef struct {
        unsigned long long allowed, reported;
} Tally;

static void refuse(Tally *t, uid_t uid, uint64_t now) {
        unsigned long long suppressed = 0;
        bool shared = false;
        if (audit_refusal_allowed(uid, now, &suppressed, &shared)) {
                t->allowed++;
                t->reported += suppressed;
        }
}

/* one uid: 20 records per 10 s, the rest counted and reported later */
static void test_one_uid(void) {
        Tally t = {};
        uint64_t base = 1000 * SEC;
        for (unsigned i = 0; i < 100; i++)
                refuse(&t, 5000, base + i * 1000);
        g_assert_cmpuint(t.allowed, ==, 20);
        g_assert_cmpuint(t.reported, ==, 0);
        refuse(&t, 5000, base + 11 * SEC);
        g_assert_cmpuint(t.allowed, ==, 21);
        g_assert_cmpuint(t.reported, ==, 80);
}

/* (red-team finding) 200 uids of one person taking turns within one
 * window: before, each uid the table had evicted came back with a fresh
 * window, so the 64-slot table bounded nothing (10,000 of 10,000 calls
 * were written). Now the uids beyond the table share one budget: at most
 * 65 × 20 records per window, and every dropped record is reported later. */
static void test_many_uids(void) {
        Tally t = {};
        uint64_t base = 5000 * SEC;
        unsigned long long calls = 0;
        for (unsigned round = 0; round < 5; round++)
                for (uid_t u = 0; u < 200; u++)
                        for (unsigned k = 0; k < 10; k++, calls++)
                                refuse(&t, 10000 + u, base + round * SEC + u * 1000 + k);
        g_test_message("%llu of %llu refusals written in one window", t.allowed, calls);
        g_assert_cmpuint(t.allowed, <=, 65 * 20);
        g_assert_cmpuint(t.allowed, >=, 64 * 20);

        /* a window later: every uid writes once more, and what was dropped
         * comes out: a uid's own count with its next record, the shared
         * count with the next record beyond the table */
        uint64_t later = base + 20 * SEC;
        for (uid_t u = 0; u < 200; u++)
                refuse(&t, 10000 + u, later + u);
        /* another window on: 64 new uids take the table, the next one is
         * beyond it and reports what the shared budget dropped */
        for (uid_t u = 0; u < 64; u++)
                refuse(&t, 20000 + u, later + 20 * SEC + u);
        refuse(&t, 30000, later + 21 * SEC);
        unsigned long long extra = 200 + 64 + 1;
        g_assert_cmpuint(t.allowed + t.reported, ==, calls + extra);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/audit/rate-one-uid", test_one_uid);
        g_test_add_func("/audit/rate-many-uids", test_many_uids);
        return g_test_run();
}
