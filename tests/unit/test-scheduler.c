/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler with a simulated executor: jobs sleep instead of resetting
 * and record when they ran. Checks FIFO inside a domain, no overlap inside a
 * domain or under a link reset's subtree, and real overlap across domains.
 */

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scheduler.h"
#include "worker-thread.h"

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

/* Root port i+1's domain for each of n jobs: n domains apart. */
typedef char DomainName[32];
static void root_port_domains(DomainName *names, const char **domains, int n) {
        for (int i = 0; i < n; i++) {
                g_snprintf(names[i], sizeof names[i], "pci0000:00/0000:00:%02x.0", i + 1);
                domains[i] = names[i];
        }
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
        const char *domains[N], *each[DOMAINS];
        DomainName names[DOMAINS];
        root_port_domains(names, each, DOMAINS);
        for (int i = 0; i < N; i++)
                domains[i] = each[i % DOMAINS];

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
        DomainName names[N];
        root_port_domains(names, domains, N);
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

/* Mappings the size of a worker's stack, read and write: glibc's cached
 * stacks of exited threads look so. */
static unsigned count_stack_sized_maps(void) {
        g_autofree char *maps = NULL;
        unsigned n = 0;
        g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
        g_auto(GStrv) lines = g_strsplit(maps, "\n", -1);
        for (char **l = lines; *l; l++) {
                unsigned long lo, hi;
                char perms[8];
                if (sscanf(*l, "%lx-%lx %7s", &lo, &hi, perms) == 3 && hi - lo == WORKER_STACK_SIZE &&
                    g_str_equal(perms, "rw-p"))
                        n++;
        }
        return n;
}

/* After a burst of parallel jobs the idle daemon is as small as before:
 * no more than WORKER_STACKS_KEPT workers' stacks stay mapped (glibc would
 * keep each one, with its thread's pages). Runs first, before any test
 * made threads. */
static void test_no_stack_kept(void) {
        enum { N = 16 };
        const char *domains[N];
        DomainName names[N];
        root_port_domains(names, domains, N);
        unsigned before = count_stack_sized_maps();
        Job *jobs = make_jobs(domains, NULL, N, 50);
        run_all(jobs, N, N);
        /* they did run side by side: N stacks existed at once */
        for (int i = 1; i < N; i++)
                g_assert_true(overlap(&jobs[0], &jobs[i]));
        g_assert_cmpuint(count_stack_sized_maps(), <=, before + WORKER_STACKS_KEPT);
        g_free(jobs);
}

/* A worker whose thread takes long to exit after its job ran (a TLS
 * destructor sleeps: thread exit runs it after the job is posted). The
 * job's done(), which answers the caller, must not wait for that exit. */
#define SLOW_EXIT_MS 400
static pthread_key_t slow_exit_key;
static gint64 done_at;

static void slow_exit(void *p) {
        (void) p;
        g_usleep(SLOW_EXIT_MS * 1000);
}

static void run_job_slow_exit(SchedJob *j) {
        run_job(j);
        g_assert_cmpint(pthread_setspecific(slow_exit_key, (void *) 1), ==, 0);
}

static void job_done_stamp(SchedJob *j) {
        done_at = g_get_monotonic_time();
        job_done(j);
}

static void test_done_before_exit(void) {
        const char *domains[] = { "pci0000:00/0000:00:01.0" };
        g_assert_cmpint(pthread_key_create(&slow_exit_key, slow_exit), ==, 0);
        Job *jobs = make_jobs(domains, NULL, 1, 10);
        jobs[0].job.run = run_job_slow_exit;
        jobs[0].job.done = job_done_stamp;
        gint64 t0 = g_get_monotonic_time();
        run_all(jobs, 1, 1);
        /* answered right after the job ran, not after the thread's exit */
        g_assert_cmpint(done_at - jobs[0].end, <, SLOW_EXIT_MS * 1000 / 2);
        /* and the thread was joined all the same before the scheduler was
         * freed: run_all() returned after its exit */
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, SLOW_EXIT_MS * 1000);
        g_free(jobs);
        pthread_key_delete(slow_exit_key);
}

/* (red team rt10B, faults and load) A done() that submits the next job
 * (the header allows it) must not start that job's worker before the
 * finished workers are joined: ef049c8 ran every done() of a batch before
 * any join, so each follow-up mapped a fresh stack while the finished
 * workers' stacks were still mapped (twice the stacks at once, a fresh
 * mapping and its munmap per follow-up). A submit from done() now waits
 * for the joins. */
enum { CHAIN_N = 8 };
static Scheduler *chain_sched;
static Job *chain_next;
static int chain_ran, chain_done;
static unsigned chain_max_maps;

static void chain_run(SchedJob *j) {
        __atomic_add_fetch(&chain_ran, 1, __ATOMIC_SEQ_CST);
}

static void chain_follow_done(SchedJob *j) {
        if (++chain_done == 2 * CHAIN_N)
                sd_event_exit(loop, 0);
}

static void chain_first_done(SchedJob *j) {
        Job *x = (Job *) j;
        g_assert_cmpint(scheduler_submit(chain_sched, &chain_next[x->id].job), ==, 0);
        unsigned n = count_stack_sized_maps();
        if (n > chain_max_maps)
                chain_max_maps = n;
        chain_follow_done(j);
}

static void test_done_submit_reuses_stacks(void) {
        const char *domains[CHAIN_N];
        DomainName names[CHAIN_N];
        root_port_domains(names, domains, CHAIN_N);
        unsigned before = count_stack_sized_maps();
        Job *first = make_jobs(domains, NULL, CHAIN_N, 0);
        chain_next = make_jobs(domains, NULL, CHAIN_N, 50);
        for (int i = 0; i < CHAIN_N; i++) {
                first[i].job.run = chain_run;
                first[i].job.done = chain_first_done;
                chain_next[i].job.done = chain_follow_done;
        }
        chain_ran = chain_done = 0;
        chain_max_maps = 0;
        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, CHAIN_N, &chain_sched), ==, 0);
        for (int i = 0; i < CHAIN_N; i++)
                g_assert_cmpint(scheduler_submit(chain_sched, &first[i].job), ==, 0);
        /* all of the first wave finished before the loop looks: one batch */
        while (__atomic_load_n(&chain_ran, __ATOMIC_SEQ_CST) < CHAIN_N)
                g_usleep(1000);
        g_usleep(100 * 1000);
        g_assert_cmpint(sd_event_loop(loop), ==, 0);
        chain_sched = scheduler_free(chain_sched);
        loop = sd_event_unref(loop);
        /* never more stacks than workers that may exist side by side: the
         * CHAIN_N finished ones are replaced one for one (before the change:
         * before + CHAIN_N - kept at most) */
        g_assert_cmpuint(chain_max_maps, <=, before + CHAIN_N);
        /* idle: no more than the kept ones, as /scheduler/no-stack-kept */
        g_assert_cmpuint(count_stack_sized_maps(), <=, before + WORKER_STACKS_KEPT);
        g_free(first);
        g_free(chain_next);
}

/* (red team) Stopping cancels the queued jobs one by one: a job that
 * waited only behind a cancelled one (FIFO: nothing overtakes a queued
 * link job) must not start then. */
static void test_hold_on_stop(void) {
        const char *domains[] = { "pci0000:00/0000:00:01.0", "pci0000:00", "pci0000:00/0000:00:02.0" };
        const gboolean links[] = { FALSE, TRUE, FALSE };
        Job *jobs = make_jobs(domains, links, 3, 200);
        Scheduler *s = NULL;
        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, 4, &s), ==, 0);
        n_done = 0;
        n_expected = 1;
        for (int i = 0; i < 3; i++)
                g_assert_cmpint(scheduler_submit(s, &jobs[i].job), ==, 0);
        /* Z runs; the link job waits for it, the third waits behind the link job */
        g_assert_cmpuint(scheduler_n_running(s), ==, 1);
        scheduler_hold(s);
        g_assert_cmpint(scheduler_cancel(s, &jobs[1].job), ==, 0);
        g_assert_cmpuint(scheduler_n_running(s), ==, 1);
        g_assert_cmpint(scheduler_cancel(s, &jobs[2].job), ==, 0);
        scheduler_drain(s);
        g_assert_cmpint(n_done, ==, 1);
        g_assert_cmpint(jobs[2].start, ==, 0);
        scheduler_free(s);
        loop = sd_event_unref(loop);
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

/* ---- the model: the contract, checked from scratch after every step ------ */

/* Jobs the test finishes one by one: run() waits until the test releases
 * it. Whether a job may start is decided here from the tree alone (parent
 * links, never the scheduler's paths or code): after every step, every pair
 * of running jobs is checked, and every queued job that the contract lets
 * start must have started unless max_parallel jobs run; at each start, no
 * earlier conflicting job may be in and no conflicting job running. */
typedef struct Model Model;

typedef enum MState { M_QUEUED, M_RUNNING, M_GONE } MState;

typedef struct MJob {
        SchedJob job;
        Model *m;
        int id;                /* arrival order */
        int node;
        gboolean link;
        gboolean refuse;       /* prepare() says no */
        gboolean started;      /* started() was called */
        gboolean done;         /* done() was called */
        gboolean release;      /* run() may return; under the model's lock */
        MState state;
} MJob;

struct Model {
        Tree tree;
        gboolean conflict[TREE_MAX][2][TREE_MAX][2]; /* tree_conflict(), once */
        Scheduler *s;
        unsigned max_parallel;
        GPtrArray *all;        /* every job, by id (owns them) */
        GPtrArray *in;         /* submitted, not done nor cancelled, arrival order */
        GMutex lock;
        GCond cond;
        unsigned starts, refusals, completions, cancels, busy, unknown, max_changes, checks;
};

static gboolean m_conflict(const Model *m, const MJob *a, const MJob *b) {
        return m->conflict[a->node][a->link][b->node][b->link];
}

static bool m_prepare(SchedJob *j) {
        MJob *x = (MJob *) j;
        Model *m = x->m;
        unsigned running = 0;

        if (x->state != M_QUEUED)
                g_error("job %d starts twice", x->id);
        for (guint i = 0; i < m->in->len; i++) {
                MJob *y = g_ptr_array_index(m->in, i);
                running += y->state == M_RUNNING;
                if (y == x || !m_conflict(m, x, y))
                        continue;
                if (y->state == M_RUNNING)
                        g_error("job %d (%s%s) starts while job %d (%s%s), conflicting, runs", x->id,
                                m->tree.node[x->node].path, x->link ? ", link" : "", y->id,
                                m->tree.node[y->node].path, y->link ? ", link" : "");
                if (y->id < x->id)
                        g_error("job %d (%s%s) starts before job %d (%s%s), earlier and conflicting", x->id,
                                m->tree.node[x->node].path, x->link ? ", link" : "", y->id,
                                m->tree.node[y->node].path, y->link ? ", link" : "");
        }
        if (running >= m->max_parallel)
                g_error("job %d starts with %u running, max_parallel %u", x->id, running, m->max_parallel);
        x->state = M_RUNNING;
        m->starts++;
        m->refusals += x->refuse;
        return !x->refuse;
}

static void m_started(SchedJob *j) {
        MJob *x = (MJob *) j;
        g_assert_true(x->state == M_RUNNING && !x->refuse && !x->started);
        x->started = TRUE;
}

static void m_run(SchedJob *j) {
        MJob *x = (MJob *) j;
        g_mutex_lock(&x->m->lock);
        while (!x->release)
                g_cond_wait(&x->m->cond, &x->m->lock);
        g_mutex_unlock(&x->m->lock);
}

static void m_done(SchedJob *j) {
        MJob *x = (MJob *) j;
        g_assert_true(x->state == M_RUNNING && !x->done);
        g_assert_true(x->refuse || x->started);
        x->state = M_GONE;
        x->done = TRUE;
        g_assert_true(g_ptr_array_remove(x->m->in, x));
}

static void model_init(Model *m, unsigned max_parallel) {
        for (int a = 0; a < m->tree.n; a++)
                for (int b = 0; b < m->tree.n; b++)
                        for (int k = 0; k < 4; k++)
                                m->conflict[a][k & 1][b][k >> 1] = tree_conflict(&m->tree, a, k & 1, b, k >> 1);
        m->max_parallel = max_parallel;
        m->all = g_ptr_array_new_with_free_func(g_free);
        m->in = g_ptr_array_new();
        g_mutex_init(&m->lock);
        g_cond_init(&m->cond);
        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, max_parallel, &m->s), ==, 0);
}

/* Runs the loop until no job that prepare() stopped waits for its done(). */
static void model_settle(Model *m) {
        for (;;) {
                gboolean waiting = FALSE;
                for (guint i = 0; i < m->in->len && !waiting; i++) {
                        MJob *x = g_ptr_array_index(m->in, i);
                        waiting = x->state == M_RUNNING && x->refuse;
                }
                if (!waiting)
                        return;
                if (sd_event_run(loop, 5 * G_USEC_PER_SEC) <= 0)
                        g_error("a stopped job got no done() within 5 s");
        }
}

/* The contract, from scratch. */
static void model_check(Model *m) {
        unsigned running = 0, queued = 0;
        m->checks++;
        for (guint i = 0; i < m->in->len; i++) {
                MJob *x = g_ptr_array_index(m->in, i);
                running += x->state == M_RUNNING;
                queued += x->state == M_QUEUED;
                if (i > 0)
                        g_assert_cmpint(((MJob *) g_ptr_array_index(m->in, i - 1))->id, <, x->id);
        }
        g_assert_cmpuint(scheduler_n_running(m->s), ==, running);
        g_assert_cmpuint(scheduler_n_queued(m->s), ==, queued);
        for (guint i = 0; i < m->in->len; i++) {
                MJob *x = g_ptr_array_index(m->in, i);
                gboolean may = x->state == M_QUEUED;
                for (guint k = 0; k < m->in->len; k++) {
                        MJob *y = g_ptr_array_index(m->in, k);
                        if (y == x || !m_conflict(m, x, y))
                                continue;
                        if (x->state == M_RUNNING && y->state == M_RUNNING)
                                g_error("jobs %d and %d conflict and run together", x->id, y->id);
                        if (y->state == M_RUNNING || y->id < x->id)
                                may = FALSE;
                }
                if (may && running < m->max_parallel)
                        g_error("job %d (%s%s) may start and only %u of %u run", x->id,
                                m->tree.node[x->node].path, x->link ? ", link" : "", running, m->max_parallel);
        }
}

static MJob *model_submit(Model *m, int node, gboolean link, gboolean refuse) {
        MJob *x = g_new0(MJob, 1);
        *x = (MJob) {
                .job = { .domain = m->tree.node[node].path, .link = link, .prepare = m_prepare,
                         .started = m_started, .run = m_run, .done = m_done },
                .m = m, .id = (int) m->all->len, .node = node, .link = link, .refuse = refuse, .state = M_QUEUED,
        };
        g_ptr_array_add(m->all, x);
        g_ptr_array_add(m->in, x);
        g_assert_cmpint(scheduler_submit(m->s, &x->job), ==, 0);
        model_settle(m);
        model_check(m);
        return x;
}

static void model_cancel(Model *m, MJob *x) {
        MState before = x->state;
        /* a queued job is gone before the call returns: what it held back
         * may start inside it */
        if (before == M_QUEUED) {
                x->state = M_GONE;
                g_assert_true(g_ptr_array_remove(m->in, x));
        }
        int r = scheduler_cancel(m->s, &x->job);
        if (before == M_QUEUED) {
                g_assert_cmpint(r, ==, 0);
                m->cancels++;
        } else if (before == M_RUNNING) {
                g_assert_cmpint(r, ==, -EBUSY);
                m->busy++;
        } else {
                g_assert_cmpint(r, ==, -ENOENT);
                m->unknown++;
        }
        model_settle(m);
        model_check(m);
}

/* Lets a running job's run() return and waits for its done(). */
static void model_complete(Model *m, MJob *x) {
        g_assert_true(x->state == M_RUNNING && !x->refuse);
        g_mutex_lock(&m->lock);
        x->release = TRUE;
        g_cond_broadcast(&m->cond);
        g_mutex_unlock(&m->lock);
        while (!x->done)
                if (sd_event_run(loop, 5 * G_USEC_PER_SEC) <= 0)
                        g_error("job %d got no done() within 5 s of its release", x->id);
        m->completions++;
        model_settle(m);
        model_check(m);
}

static void model_set_max(Model *m, unsigned max_parallel) {
        m->max_parallel = max_parallel;
        scheduler_set_max_parallel(m->s, max_parallel);
        m->max_changes++;
        model_settle(m);
        model_check(m);
}

static MJob *model_pick(Model *m, GRand *rand, MState state) {
        MJob *pick[256];
        unsigned n = 0;
        for (guint i = 0; i < m->in->len && n < G_N_ELEMENTS(pick); i++) {
                MJob *x = g_ptr_array_index(m->in, i);
                if (x->state == state && !(state == M_RUNNING && x->refuse))
                        pick[n++] = x;
        }
        return n ? pick[g_rand_int_range(rand, 0, (gint32) n)] : NULL;
}

/* Completes everything (no job starves), then frees it all. */
static void model_finish(Model *m) {
        while (m->in->len > 0) {
                MJob *x = NULL;
                for (guint i = 0; i < m->in->len && !x; i++)
                        if (((MJob *) g_ptr_array_index(m->in, i))->state == M_RUNNING)
                                x = g_ptr_array_index(m->in, i);
                if (!x)
                        g_error("%u jobs in, none running", m->in->len);
                model_complete(m, x);
        }
        g_assert_cmpuint(scheduler_n_running(m->s), ==, 0);
        g_assert_cmpuint(scheduler_n_queued(m->s), ==, 0);
        m->s = scheduler_free(m->s);
        loop = sd_event_unref(loop);
        g_ptr_array_unref(m->in);
        g_ptr_array_unref(m->all);
        g_mutex_clear(&m->lock);
        g_cond_clear(&m->cond);
}

/* As the daemon stops (request_queue_free()): the queued jobs are
 * cancelled, newest first, which starts nothing (an earlier job never
 * waits for a later one); then scheduler_drain() waits for the running
 * ones, calls their done() and starts nothing either. */
static void model_drain(Model *m) {
        unsigned starts = m->starts;
        for (guint i = m->in->len; i-- > 0;) {
                MJob *x = g_ptr_array_index(m->in, i);
                if (x->state != M_QUEUED)
                        continue;
                x->state = M_GONE;
                g_ptr_array_remove_index(m->in, i);
                g_assert_cmpint(scheduler_cancel(m->s, &x->job), ==, 0);
        }
        g_assert_cmpuint(m->starts, ==, starts);
        g_assert_cmpuint(scheduler_n_queued(m->s), ==, 0);
        g_mutex_lock(&m->lock);
        for (guint i = 0; i < m->in->len; i++)
                ((MJob *) g_ptr_array_index(m->in, i))->release = TRUE;
        g_cond_broadcast(&m->cond);
        g_mutex_unlock(&m->lock);
        scheduler_drain(m->s);
        g_assert_cmpuint(m->starts, ==, starts);
        g_assert_cmpuint(scheduler_n_running(m->s), ==, 0);
        g_assert_cmpuint(m->in->len, ==, 0);
}

/* A random tree of n domains below two root complexes whose names extend
 * one another; a third of the nodes are named as a sibling plus "1" (a
 * name prefix, not an ancestor). */
static void tree_random(Tree *t, GRand *rand, int n) {
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        t->n = 0;
        tree_add(t, -1, "pci0000:0");
        tree_add(t, -1, "pci0000:00");
        while (t->n < n) {
                int parent = g_rand_int_range(rand, 0, t->n), sibling = -1;
                char name[64];
                for (int a = 0; a < t->n; a++)
                        if (t->node[a].parent == parent && (sibling < 0 || g_rand_boolean(rand)))
                                sibling = a;
                if (sibling >= 0 && g_rand_int_range(rand, 0, 3) == 0)
                        g_snprintf(name, sizeof name, "%s1", strrchr(t->node[sibling].path, '/') + 1);
                else
                        g_snprintf(name, sizeof name, "0000:%02x:%02x.%d", parent, t->n, g_rand_int_range(rand, 0, 8));
                g_autofree char *path = g_strdup_printf("%s/%s", t->node[parent].path, name);
                if (strlen(path) >= sizeof t->node[0].path || !g_hash_table_add(seen, g_steal_pointer(&path)))
                        continue;
                tree_add(t, parent, name);
        }
}

/* Thousands of random submits, cancels, completions and max_parallel
 * changes over random trees, the contract checked after each. */
static void test_model_random(void) {
        enum { SEEDS = 6, STEPS = 2500 };
        for (guint32 seed = 1; seed <= SEEDS; seed++) {
                GRand *rand = g_rand_new_with_seed(seed);
                Model *m = g_new0(Model, 1);
                tree_random(&m->tree, rand, g_rand_int_range(rand, 6, 20));
                model_init(m, (unsigned) g_rand_int_range(rand, 1, 6));
                unsigned peak = 0, link_jobs = 0;
                for (int step = 0; step < STEPS; step++) {
                        int op = g_rand_int_range(rand, 0, 100);
                        MJob *x = NULL;
                        peak = MAX(peak, m->in->len);
                        if (op < (m->in->len < 40 ? 45 : 20)) {
                                gboolean link = g_rand_int_range(rand, 0, 3) == 0;
                                link_jobs += link;
                                model_submit(m, g_rand_int_range(rand, 0, m->tree.n), link,
                                             g_rand_int_range(rand, 0, 10) == 0);
                        } else if (op < 75) {
                                if ((x = model_pick(m, rand, M_RUNNING)))
                                        model_complete(m, x);
                        } else if (op < 88) {
                                if ((x = model_pick(m, rand, M_QUEUED)))
                                        model_cancel(m, x);
                        } else if (op < 94) {
                                /* any job: running (-EBUSY), gone (-ENOENT) or queued */
                                if (!(g_rand_boolean(rand) && (x = model_pick(m, rand, M_RUNNING))) && m->all->len)
                                        x = g_ptr_array_index(m->all, g_rand_int_range(rand, 0, (gint32) m->all->len));
                                if (x)
                                        model_cancel(m, x);
                        } else
                                model_set_max(m, (unsigned) g_rand_int_range(rand, 1, 7));
                }
                g_test_message("seed %u: %d domains, %u jobs (%u link), peak %u in; %u starts (%u stopped by "
                               "prepare), %u completions, %u cancels, %u -EBUSY, %u -ENOENT, %u max_parallel "
                               "changes, %u checks",
                               seed, m->tree.n, m->all->len, link_jobs, peak, m->starts, m->refusals, m->completions,
                               m->cancels, m->busy, m->unknown, m->max_changes, m->checks);
                g_assert_cmpuint(m->cancels, >, 0);
                g_assert_cmpuint(m->busy, >, 0);
                g_assert_cmpuint(m->refusals, >, 0);
                g_assert_cmpuint(peak, >=, 20);
                if (seed % 2 == 0)
                        model_drain(m);
                model_finish(m);
                g_free(m);
                g_rand_free(rand);
        }
}

/* The case per-job dependencies get wrong: at bridge A a link reset K runs,
 * a function reset N and a link reset X wait behind it, and J below A waits
 * for X (the last link reset at A). X is cancelled: J must still wait for
 * K, which X only reached through N, with which J does not conflict. */
static void test_model_cancel_link(void) {
        Model *m = g_new0(Model, 1);
        int root = tree_add(&m->tree, -1, "pci0000:00");
        int a = tree_add(&m->tree, root, "0000:00:01.0");
        int c = tree_add(&m->tree, a, "0000:01:00.0");
        int other = tree_add(&m->tree, root, "0000:00:01.01");
        model_init(m, 8);

        MJob *k = model_submit(m, a, TRUE, FALSE);
        MJob *n = model_submit(m, a, FALSE, FALSE);
        MJob *x = model_submit(m, a, TRUE, FALSE);
        MJob *j = model_submit(m, c, FALSE, FALSE);
        MJob *o = model_submit(m, other, TRUE, FALSE);
        g_assert_true(k->state == M_RUNNING && o->state == M_RUNNING);
        g_assert_true(n->state == M_QUEUED && x->state == M_QUEUED && j->state == M_QUEUED);
        model_cancel(m, x);
        g_assert_true(j->state == M_QUEUED);
        model_complete(m, k);
        /* N and J do not conflict: both start */
        g_assert_true(n->state == M_RUNNING && j->state == M_RUNNING);
        /* a link reset at A now waits for both, and holds off what comes after */
        MJob *l = model_submit(m, a, TRUE, FALSE);
        MJob *j2 = model_submit(m, c, FALSE, FALSE);
        model_complete(m, n);
        g_assert_true(l->state == M_QUEUED);
        model_cancel(m, l);
        /* J2 waited for L and for J, not any more for L */
        g_assert_true(j2->state == M_QUEUED);
        model_complete(m, j);
        g_assert_true(j2->state == M_RUNNING);
        model_finish(m);
        g_free(m);
}

/* ---- the cost per step does not grow with the queue ---------------------- */

static unsigned scale_done, scale_expected;

static void scale_run(SchedJob *j) {
}

/* Ends each job before its worker: the scheduler's own work, without
 * 10,000 thread starts (slow under the sanitizers). */
static bool scale_stop(SchedJob *j) {
        return false;
}

static void scale_job_done(SchedJob *j) {
        if (++scale_done == scale_expected)
                sd_event_exit(loop, 0);
}

/* n jobs round robin over `domains` domains, bridges of ten: the bridge
 * itself (link resets) and nine domains below it (function resets). The
 * scheduler's steps per submit and per completion. */
static void scale_measure(unsigned n, unsigned domains, double *per_submit, double *per_completion, double *ms) {
        SchedJob *jobs = g_new0(SchedJob, n);
        char **paths = g_new0(char *, domains);
        Scheduler *s = NULL;

        for (unsigned d = 0; d < domains; d++) {
                unsigned bridge = d / 10, slot = d % 10;
                g_autofree char *b = g_strdup_printf("pci0000:00/0000:00:%02x.%u", bridge / 8 + 1, bridge % 8);
                paths[d] = slot == 0 ? g_steal_pointer(&b)
                                     : g_strdup_printf("%s/0000:%02x:00.%u", b, bridge + 1, slot - 1);
        }
        for (unsigned i = 0; i < n; i++)
                jobs[i] = (SchedJob) { .domain = paths[i % domains], .link = i % domains % 10 == 0,
                                       .prepare = scale_stop, .run = scale_run, .done = scale_job_done };
        g_assert_cmpint(sd_event_new(&loop), >=, 0);
        g_assert_cmpint(scheduler_new(loop, 8, &s), ==, 0);
        scale_done = 0;
        scale_expected = n;
        gint64 t0 = g_get_monotonic_time();
        uint64_t s0 = scheduler_debug_steps(s);
        for (unsigned i = 0; i < n; i++)
                g_assert_cmpint(scheduler_submit(s, &jobs[i]), ==, 0);
        uint64_t s1 = scheduler_debug_steps(s);
        g_assert_cmpint(sd_event_loop(loop), ==, 0);
        uint64_t s2 = scheduler_debug_steps(s);
        *ms = (double) (g_get_monotonic_time() - t0) / 1000;
        g_assert_cmpuint(scheduler_n_queued(s), ==, 0);
        scheduler_free(s);
        loop = sd_event_unref(loop);
        *per_submit = (double) (s1 - s0) / n;
        *per_completion = (double) (s2 - s1) / n;
        for (unsigned d = 0; d < domains; d++)
                g_free(paths[d]);
        g_free(paths);
        g_free(jobs);
}

static void test_scaling(void) {
        static const struct { unsigned n, domains; } runs[] = { { 100, 10 }, { 10000, 1000 }, { 10000, 10 } };
        double submit[3], completion[3], ms[3];
        for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
                scale_measure(runs[i].n, runs[i].domains, &submit[i], &completion[i], &ms[i]);
                g_test_message("%u jobs over %u domains: %.1f steps per submit, %.1f per completion, %.0f ms",
                               runs[i].n, runs[i].domains, submit[i], completion[i], ms[i]);
        }
        for (size_t i = 1; i < G_N_ELEMENTS(runs); i++) {
                g_assert_cmpfloat(submit[i], <=, 3 * submit[0]);
                g_assert_cmpfloat(completion[i], <=, 3 * completion[0]);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/scheduler/no-stack-kept", test_no_stack_kept);
        g_test_add_func("/scheduler/conflict-rules", test_conflict_rules);
        g_test_add_func("/scheduler/conflict-rules-tree", test_conflict_rules_tree);
        g_test_add_func("/scheduler/fifo-and-parallel", test_fifo_and_parallel);
        g_test_add_func("/scheduler/link-excludes-subtree", test_link_excludes_subtree);
        g_test_add_func("/scheduler/max-parallel", test_max_parallel);
        g_test_add_func("/scheduler/cancel-queued", test_cancel_queued);
        g_test_add_func("/scheduler/done-before-exit", test_done_before_exit);
        g_test_add_func("/scheduler/hold-on-stop", test_hold_on_stop);
        g_test_add_func("/scheduler/done-submit-reuses-stacks", test_done_submit_reuses_stacks);
        g_test_add_func("/scheduler/stress", test_stress);
        g_test_add_func("/scheduler/model-random", test_model_random);
        g_test_add_func("/scheduler/model-cancel-link", test_model_cancel_link);
        g_test_add_func("/scheduler/scaling", test_scaling);
        return g_test_run();
}
