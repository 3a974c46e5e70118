/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler with a simulated executor: jobs sleep instead of resetting
 * and record when they ran. Checks FIFO inside a domain, no overlap inside a
 * domain or under a link reset's subtree, and real overlap across domains.
 */

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <time.h>

#include "scheduler.h"

typedef struct Job {
        SchedJob job;
        int id;
        unsigned sleep_ms;
        gint64 start, end;     /* monotonic usec */
        int done_order;
} Job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int n_done, n_expected;
static sd_event *loop;

static void run_job(SchedJob *j) {
        Job *x = (Job *) j;
        x->start = g_get_monotonic_time();
        g_usleep(x->sleep_ms * 1000);
        x->end = g_get_monotonic_time();
}

static void job_done(SchedJob *j) {
        Job *x = (Job *) j;
        pthread_mutex_lock(&lock);
        x->done_order = n_done++;
        pthread_mutex_unlock(&lock);
        if (n_done == n_expected)
                sd_event_exit(loop, 0);
}

static Job *make_jobs(const char *const *domains, const gboolean *links, size_t n, unsigned sleep_ms) {
        Job *jobs = g_new0(Job, n);
        for (size_t i = 0; i < n; i++)
                jobs[i] = (Job) {
                        .job = { .domain = (char *) domains[i], .link = links ? links[i] : FALSE,
                                 .run = run_job, .done = job_done },
                        .id = (int) i,
                        .sleep_ms = sleep_ms,
                };
        return jobs;
}

static void run_all(Job *jobs, size_t n, unsigned max_parallel) {
        Scheduler *s = NULL;
        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, max_parallel, &s), ==, 0);
        n_done = 0;
        n_expected = (int) n;
        for (size_t i = 0; i < n; i++)
                g_assert_cmpint(scheduler_submit(s, &jobs[i].job), ==, 0);
        g_assert_cmpint(sd_event_loop(loop), ==, 0);
        g_assert_cmpuint(scheduler_n_running(s), ==, 0);
        g_assert_cmpuint(scheduler_n_queued(s), ==, 0);
        scheduler_free(s);
        loop = sd_event_unref(loop);
}

static gboolean overlap(const Job *a, const Job *b) {
        return a->start < b->end && b->start < a->end;
}

static void test_conflict_rules(void) {
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", FALSE, "pci0000:00/0000:00:01.0", FALSE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", FALSE, "pci0000:00/0000:00:02.0", FALSE));
        /* function reset under a bridge vs. a function reset deeper: independent */
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", FALSE,
                                              "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0", FALSE));
        /* link reset at B excludes everything below B */
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE,
                                             "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0", FALSE));
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0/0000:01:00.0", FALSE,
                                             "pci0000:00/0000:00:01.0", TRUE));
        /* a prefix of the name is not an ancestor */
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE, "pci0000:00/0000:00:01.01", FALSE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.01", FALSE, "pci0000:00/0000:00:01.0", TRUE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE,
                                              "pci0000:00/0000:00:01.01/0000:02:00.0", FALSE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE, "pci0000:00/0000:00:01.01", TRUE));
        /* ...nor is a root complex whose name extends another's */
        g_assert_false(sched_domains_conflict("pci0000:0", TRUE, "pci0000:00/0000:00:01.0", FALSE));
        /* different root complexes, even with the same names below them */
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE,
                                              "pci0000:80/0000:80:01.0/0000:81:00.0", FALSE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE, "pci0001:00/0000:00:01.0", TRUE));
        g_assert_false(sched_domains_conflict("pci0001:00/0000:00:01.0/0000:01:00.0", FALSE,
                                              "pci0000:00/0000:00:01.0", TRUE));
        /* deep nesting: a link reset reaches all the way down, from either side */
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE,
                                             "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0/0000:03:00.0/"
                                             "0000:04:01.0/0000:05:00.0", FALSE));
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0/0000:03:00.0/"
                                             "0000:04:01.0/0000:05:00.0", FALSE, "pci0000:00/0000:00:01.0", TRUE));
        /* link vs. non-link: only the link reset's subtree is excluded, not
         * what lies above it, in either order */
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0", TRUE,
                                              "pci0000:00/0000:00:01.0", FALSE));
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0", FALSE,
                                              "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0", TRUE));
        /* two link resets, one below the other, in either order */
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE,
                                             "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0", TRUE));
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:03.0", TRUE,
                                             "pci0000:00/0000:00:01.0", TRUE));
        /* the same domain conflicts whatever the kinds */
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE, "pci0000:00/0000:00:01.0", FALSE));
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", FALSE, "pci0000:00/0000:00:01.0", TRUE));
        g_assert_true(sched_domains_conflict("pci0000:00/0000:00:01.0", TRUE, "pci0000:00/0000:00:01.0", TRUE));
        /* siblings below one bridge: independent, links or not */
        g_assert_false(sched_domains_conflict("pci0000:00/0000:00:01.0/0000:01:00.0", TRUE,
                                              "pci0000:00/0000:00:01.0/0000:01:00.1", TRUE));
}

/* ---- a host the tests build themselves ----------------------------------- */

/* A tree of reset domains. Each node's path is its parent's plus its own
 * name, but who lies below whom is known from the parent links the builder
 * set, never from the names: the oracle the scheduler's results are judged
 * by, independent of how the scheduler decides. */
enum { TREE_MAX = 128 };

typedef struct TreeNode {
        int parent;            /* index, -1 for a root complex */
        int n_children;
        char path[160];
} TreeNode;

typedef struct Tree {
        TreeNode node[TREE_MAX];
        int n;
} Tree;

static int tree_add(Tree *t, int parent, const char *name) {
        g_assert_cmpint(t->n, <, TREE_MAX);
        TreeNode *x = &t->node[t->n];
        x->parent = parent;
        if (parent < 0)
                g_strlcpy(x->path, name, sizeof x->path);
        else {
                g_snprintf(x->path, sizeof x->path, "%s/%s", t->node[parent].path, name);
                t->node[parent].n_children++;
        }
        return t->n++;
}

/* Below bridge (on bus `bus`), to depth levels more: two bridges, each with
 * a subtree, and an endpoint named as the first bridge plus one character
 * ("0000:01:00.0" and "0000:01:00.01"): its name extends the bridge's, but it
 * lies beside it, not below. The last level is two functions of an
 * endpoint. */
static void tree_grow(Tree *t, int bridge, const char *segment, unsigned *next_bus, unsigned bus, int levels) {
        char name[32];
        if (levels == 0) {
                for (int fn = 0; fn < 2; fn++) {
                        g_snprintf(name, sizeof name, "%s:%02x:00.%d", segment, bus, fn);
                        tree_add(t, bridge, name);
                }
                return;
        }
        for (int dev = 0; dev < 2; dev++) {
                g_snprintf(name, sizeof name, "%s:%02x:%02x.0", segment, bus, dev);
                unsigned below = (*next_bus)++;
                tree_grow(t, tree_add(t, bridge, name), segment, next_bus, below, levels - 1);
        }
        g_snprintf(name, sizeof name, "%s:%02x:00.01", segment, bus);
        tree_add(t, bridge, name);
}

/* Two root complexes, pci0000:00 and pci0000:80, each three levels of
 * bridges deep, with the same names below each ("0000:01:00.0" lies under
 * both). The root complexes themselves are no reset domains. */
static void tree_build(Tree *t) {
        t->n = 0;
        for (int r = 0; r < 2; r++) {
                unsigned next_bus = 1;
                int root = tree_add(t, -1, r == 0 ? "pci0000:00" : "pci0000:80");
                tree_grow(t, root, "0000", &next_bus, 0, 3);
        }
        /* one path, one node: else the scheduler could not tell them apart */
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        for (int a = 0; a < t->n; a++)
                g_assert_true(g_hash_table_add(seen, t->node[a].path));
}

static gboolean tree_is_root(const Tree *t, int a) {
        return t->node[a].parent < 0;
}

static gboolean tree_is_bridge(const Tree *t, int a) {
        return !tree_is_root(t, a) && t->node[a].n_children > 0;
}

/* a is b, or lies above it, by the parent links */
static gboolean tree_contains(const Tree *t, int a, int b) {
        for (int x = b; x >= 0; x = t->node[x].parent)
                if (x == a)
                        return TRUE;
        return FALSE;
}

/* The contract (scheduler.h), on the tree: the same domain, or a link reset
 * at an ancestor. */
static gboolean tree_conflict(const Tree *t, int a, gboolean a_link, int b, gboolean b_link) {
        return a == b || (a_link && tree_contains(t, a, b)) || (b_link && tree_contains(t, b, a));
}

/* sched_domains_conflict() against the tree, for every pair of its domains
 * and kinds (link resets at bridges only). */
static void test_conflict_rules_tree(void) {
        Tree t;
        tree_build(&t);
        unsigned domains = 0, checked = 0, conflicts = 0, name_extends = 0;
        for (int a = 0; a < t.n; a++)
                for (int b = 0; b < t.n; b++) {
                        if (tree_is_root(&t, a) || tree_is_root(&t, b))
                                continue;
                        domains += a == b;
                        for (int k = 0; k < 4; k++) {
                                gboolean a_link = k & 1, b_link = k >> 1;
                                if ((a_link && !tree_is_bridge(&t, a)) || (b_link && !tree_is_bridge(&t, b)))
                                        continue;
                                gboolean want = tree_conflict(&t, a, a_link, b, b_link);
                                gboolean got = sched_domains_conflict(t.node[a].path, a_link, t.node[b].path, b_link);
                                if (got != want)
                                        g_error("sched_domains_conflict(%s, %d, %s, %d) = %d, the tree says %d",
                                                t.node[a].path, a_link, t.node[b].path, b_link, got, want);
                                checked++;
                                conflicts += want;
                                /* the cases a string-prefix test gets wrong */
                                name_extends += a_link && !want && g_str_has_prefix(t.node[b].path, t.node[a].path);
                        }
                }
        g_test_message("%u domains, %u pairs checked, %u conflicting, %u a name prefix but no ancestor", domains,
                       checked, conflicts, name_extends);
        g_assert_cmpuint(conflicts, >, 0);
        g_assert_cmpuint(conflicts, <, checked);
        g_assert_cmpuint(name_extends, >, 0);
}

/* 8 domains x 4 jobs: per domain strictly FIFO and serial, across domains parallel */
static void test_fifo_and_parallel(void) {
        enum { DOMAINS = 8, PER = 4, N = DOMAINS * PER };
        const char *domains[N];
        char names[DOMAINS][32];
        for (int d = 0; d < DOMAINS; d++)
                g_snprintf(names[d], sizeof names[d], "pci0000:00/0000:00:%02x.0", d + 1);
        for (int i = 0; i < N; i++)
                domains[i] = names[i % DOMAINS];

        Job *jobs = make_jobs(domains, NULL, N, 50);
        gint64 t0 = g_get_monotonic_time();
        run_all(jobs, N, 64);
        gint64 total = g_get_monotonic_time() - t0;

        int cross_overlaps = 0;
        for (int i = 0; i < N; i++)
                for (int k = i + 1; k < N; k++) {
                        if (i % DOMAINS == k % DOMAINS) {
                                /* same domain: never together, and in submission order */
                                g_assert_false(overlap(&jobs[i], &jobs[k]));
                                g_assert_cmpint(jobs[i].end, <=, jobs[k].start);
                                g_assert_cmpint(jobs[i].done_order, <, jobs[k].done_order);
                        } else if (overlap(&jobs[i], &jobs[k]))
                                cross_overlaps++;
                }
        /* unrelated domains really ran at the same time */
        g_assert_cmpint(cross_overlaps, >, DOMAINS);
        /* 4 rounds of 50 ms, not 32 */
        g_test_message("32 jobs of 50 ms over 8 domains took %" G_GINT64_FORMAT " ms", total / 1000);
        g_assert_cmpint(total, <, 32 * 50 * 1000 / 2);
        g_free(jobs);
}

/* A link reset at a bridge waits for, and holds off, everything below it,
 * and nothing submitted after it overtakes it. */
static void test_link_excludes_subtree(void) {
        const char *domains[] = {
                "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0",  /* 0: function reset below */
                "pci0000:00/0000:00:01.0",                            /* 1: link reset at the top */
                "pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:02.0",  /* 2: below, submitted after */
                "pci0000:00/0000:00:05.0",                            /* 3: unrelated */
        };
        const gboolean links[] = { FALSE, TRUE, FALSE, FALSE };
        Job *jobs = make_jobs(domains, links, G_N_ELEMENTS(domains), 80);
        run_all(jobs, G_N_ELEMENTS(domains), 64);

        g_assert_false(overlap(&jobs[0], &jobs[1]));
        g_assert_false(overlap(&jobs[1], &jobs[2]));
        g_assert_cmpint(jobs[0].end, <=, jobs[1].start);
        g_assert_cmpint(jobs[1].end, <=, jobs[2].start);
        /* the unrelated one did not wait */
        g_assert_true(overlap(&jobs[0], &jobs[3]));
        g_free(jobs);
}

static void test_max_parallel(void) {
        enum { N = 6 };
        const char *domains[N];
        char names[N][32];
        for (int i = 0; i < N; i++) {
                g_snprintf(names[i], sizeof names[i], "pci0000:00/0000:00:%02x.0", i + 1);
                domains[i] = names[i];
        }
        Job *jobs = make_jobs(domains, NULL, N, 40);
        run_all(jobs, N, 2);
        /* at the moment any job starts, at most two are running */
        for (int i = 0; i < N; i++) {
                int running = 0;
                for (int k = 0; k < N; k++)
                        running += jobs[k].start <= jobs[i].start && jobs[i].start < jobs[k].end;
                g_assert_cmpint(running, <=, 2);
        }
        g_free(jobs);
}

typedef struct CancelCtx {
        Scheduler *s;
        Job *victim;
        int cancel_result;
} CancelCtx;

static int on_cancel_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        CancelCtx *c = userdata;
        c->cancel_result = scheduler_cancel(c->s, &c->victim->job);
        return 0;
}

static void test_cancel_queued(void) {
        const char *domains[] = { "pci0000:00/0000:00:01.0", "pci0000:00/0000:00:01.0", "pci0000:00/0000:00:01.0" };
        Job *jobs = make_jobs(domains, NULL, 3, 100);
        Scheduler *s = NULL;
        CancelCtx c = { .victim = &jobs[1], .cancel_result = 1 };

        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, 8, &s), ==, 0);
        c.s = s;
        n_done = 0;
        n_expected = 2;
        for (int i = 0; i < 3; i++)
                scheduler_submit(s, &jobs[i].job);
        /* the first job runs: it cannot be taken back */
        g_assert_cmpint(scheduler_cancel(s, &jobs[0].job), ==, -EBUSY);
        uint64_t now = (uint64_t) g_get_monotonic_time();
        sd_event_add_time(loop, NULL, CLOCK_MONOTONIC, now + 20000, 1, on_cancel_timer, &c);
        g_assert_cmpint(sd_event_loop(loop), ==, 0);
        g_assert_cmpint(c.cancel_result, ==, 0);
        g_assert_cmpint(jobs[1].start, ==, 0);      /* never ran */
        g_assert_cmpint(jobs[2].start, >, 0);
        g_assert_cmpint(jobs[0].end, <=, jobs[2].start);
        scheduler_free(s);
        loop = sd_event_unref(loop);
        g_free(jobs);
}

/* Many threads' worth of random jobs over the tree's domains: the invariant
 * holds under load, not only in the neat cases. Which jobs may not overlap
 * is the tree's answer, not the scheduler's. */
static void test_stress(void) {
        enum { N = 400 };
        Tree t;
        tree_build(&t);
        int domains[TREE_MAX], n_domains = 0;
        for (int a = 0; a < t.n; a++)
                if (!tree_is_root(&t, a))
                        domains[n_domains++] = a;

        int node[N];
        const char *paths[N];
        gboolean links[N];
        GRand *rand = g_rand_new_with_seed(4711);
        for (int i = 0; i < N; i++) {
                node[i] = domains[g_rand_int_range(rand, 0, n_domains)];
                paths[i] = t.node[node[i]].path;
                links[i] = tree_is_bridge(&t, node[i]) && g_rand_int_range(rand, 0, 4) == 0;
        }
        Job *jobs = make_jobs(paths, links, N, 0);
        for (int i = 0; i < N; i++)
                jobs[i].sleep_ms = (unsigned) g_rand_int_range(rand, 0, 4);
        run_all(jobs, N, 16);

        int parallel = 0, same = 0, below_link = 0;
        for (int i = 0; i < N; i++)
                for (int k = i + 1; k < N; k++) {
                        if (tree_conflict(&t, node[i], links[i], node[k], links[k])) {
                                g_assert_false(overlap(&jobs[i], &jobs[k]));
                                g_assert_cmpint(jobs[i].start, <=, jobs[k].start);
                                if (node[i] == node[k])
                                        same++;
                                else
                                        below_link++;
                        } else if (overlap(&jobs[i], &jobs[k]))
                                parallel++;
                }
        g_test_message("%d pairs in one domain, %d under a link reset, %d ran in parallel", same, below_link,
                       parallel);
        /* both kinds of conflict were there to be kept apart */
        g_assert_cmpint(same, >, 0);
        g_assert_cmpint(below_link, >, 0);
        g_assert_cmpint(parallel, >, 0);
        g_rand_free(rand);
        g_free(jobs);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/scheduler/conflict-rules", test_conflict_rules);
        g_test_add_func("/scheduler/conflict-rules-tree", test_conflict_rules_tree);
        g_test_add_func("/scheduler/fifo-and-parallel", test_fifo_and_parallel);
        g_test_add_func("/scheduler/link-excludes-subtree", test_link_excludes_subtree);
        g_test_add_func("/scheduler/max-parallel", test_max_parallel);
        g_test_add_func("/scheduler/cancel-queued", test_cancel_queued);
        g_test_add_func("/scheduler/stress", test_stress);
        return g_test_run();
}
