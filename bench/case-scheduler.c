/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler alone (daemon/scheduler.c linked in; no fake host, no
 * daemon): what one completion costs with 10,000 requests queued over 1,000
 * reset domains, against 10 over 10 (the baseline, measured in the same run,
 * interleaved). The queue keeps its length: each job's done() submits the
 * next request of its domain, so every completion is measured with the
 * queue full.
 *
 * The target figure is the scheduler's own work: each job's prepare() ends
 * it, as it does when a device changed while queued, so a completion is the
 * dispatch that picks it, the handoff to the loop (eventfd), the bookkeeping
 * when it leaves and its done(), with no worker thread, whose creation and
 * join would be most of the time and the same for any queue. The same with
 * a worker thread per job (run() does nothing) is an info row.
 *
 * The domains come in bridges of ten: a link reset at the bridge and
 * function resets at nine devices below it, so link resets wait for their
 * subtree and hold it off. MaxParallelResets is the daemon's default, 64.
 * Times are the loop thread's CPU time (what other processes on the
 * machine take does not count): the loop is where the scheduler works.
 */

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "cases.h"
#include "options.h"
#include "report.h"
#include "scheduler.h"
#include "stats.h"

#define C "scheduler"

typedef struct Load {
        sd_event *loop;
        Scheduler *s;
        SchedJob *jobs;
        char **paths;
        unsigned n, domains;
        unsigned completions, target; /* done() calls so far; the last one to count */
        gboolean failed;
} Load;

/* The Load being measured, for done(). */
static Load *current;

static void job_run(SchedJob *j) {
}

/* Ends the job before a worker would start: the scheduler alone. */
static bool job_stop(SchedJob *j) {
        return false;
}

static void job_done(SchedJob *j) {
        Load *l = current;
        if (++l->completions >= l->target) {
                if (l->completions == l->target)
                        sd_event_exit(l->loop, 0);
                return;
        }
        /* the next request of the same domain: the queue keeps its length */
        if (scheduler_submit(l->s, j) < 0) {
                l->failed = TRUE;
                sd_event_exit(l->loop, 0);
        }
}

static gboolean load_new(Load *l, unsigned n, unsigned domains, gboolean threads) {
        *l = (Load) { .n = n, .domains = domains };
        l->jobs = g_new0(SchedJob, n);
        l->paths = g_new0(char *, domains);
        for (unsigned d = 0; d < domains; d++) {
                unsigned bridge = d / 10, slot = d % 10;
                g_autofree char *b = g_strdup_printf("pci0000:%02x/0000:%02x:%02x.%u", bridge / 256,
                                                     bridge / 256, bridge % 256 / 8 + 1, bridge % 8);
                l->paths[d] = slot == 0 ? g_steal_pointer(&b)
                                        : g_strdup_printf("%s/0000:%02x:00.%u", b, bridge % 256 + 1, slot - 1);
        }
        for (unsigned i = 0; i < n; i++)
                l->jobs[i] = (SchedJob) { .domain = l->paths[i % domains], .link = i % domains % 10 == 0,
                                          .prepare = threads ? NULL : job_stop, .run = job_run,
                                          .done = job_done };
        return sd_event_new(&l->loop) >= 0 && scheduler_new(l->loop, 64, &l->s) >= 0;
}

static void load_free(Load *l) {
        /* what is still queued is cancelled, what runs finishes */
        for (unsigned i = 0; l->s && i < l->n; i++)
                (void) scheduler_cancel(l->s, &l->jobs[i]);
        l->s = scheduler_free(l->s);
        l->loop = sd_event_unref(l->loop);
        for (unsigned d = 0; d < l->domains; d++)
                g_free(l->paths[d]);
        g_free(l->paths);
        g_free(l->jobs);
}

static double thread_cpu_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

typedef struct Figures {
        double cpu_ms;   /* the loop thread's CPU time per completion */
        double steps;    /* scheduler_debug_steps() per completion */
        double total_ms; /* wall: queueing, the completions, cancelling the rest */
} Figures;

/* n requests over `domains` domains queued, then `completions`
 * completions with the queue kept full; FALSE if it failed. */
static gboolean measure(unsigned n, unsigned domains, unsigned completions, gboolean threads, Figures *f) {
        Load l;
        double t0 = now_ms();
        gboolean ok = load_new(&l, n, domains, threads);
        current = &l;
        l.target = completions;
        for (unsigned i = 0; ok && i < n; i++)
                ok = scheduler_submit(l.s, &l.jobs[i]) >= 0;
        if (ok) {
                double c1 = thread_cpu_ms();
                uint64_t s1 = scheduler_debug_steps(l.s);
                ok = sd_event_loop(l.loop) >= 0 && !l.failed;
                f->cpu_ms = (thread_cpu_ms() - c1) / completions;
                f->steps = (double) (scheduler_debug_steps(l.s) - s1) / completions;
        }
        load_free(&l);
        current = NULL;
        f->total_ms = now_ms() - t0;
        return ok;
}

/* Medians over runs of the big load and the baseline, interleaved. */
static gboolean measure_runs(unsigned runs, unsigned big_n, unsigned completions, gboolean threads, Figures *big,
                             Figures *base) {
        double v[2][3][8];
        for (unsigned r = 0; r < runs; r++)
                for (unsigned k = 0; k < 2; k++) {
                        Figures f;
                        if (!measure(k ? 10 : big_n, k ? 10 : big_n / 10, completions, threads, &f))
                                return FALSE;
                        v[k][0][r] = f.cpu_ms, v[k][1][r] = f.steps, v[k][2][r] = f.total_ms;
                }
        *big = (Figures) { median_of(v[0][0], runs), median_of(v[0][1], runs), median_of(v[0][2], runs) };
        *base = (Figures) { median_of(v[1][0], runs), median_of(v[1][1], runs), median_of(v[1][2], runs) };
        return TRUE;
}

/* 10000 -> "10,000" */
static char *grouped(unsigned v) {
        return v >= 1000 ? g_strdup_printf("%u,%03u", v / 1000, v % 1000) : g_strdup_printf("%u", v);
}

static void case_scheduler(void) {
        unsigned big_n = options.smoke ? 1000 : 10000, completions = options.smoke ? 2000 : 10000;
        unsigned runs = options.smoke ? 1 : 5, thread_runs = options.smoke ? 1 : 3;
        Figures big, base, tbig, tbase;

        say("scheduler: %u completions with %u requests queued over %u domains, and with 10 over 10", completions,
            big_n, big_n / 10);
        if (!measure_runs(runs, big_n, completions, FALSE, &big, &base) ||
            !measure_runs(thread_runs, big_n, completions, TRUE, &tbig, &tbase))
                FAIL(C, "cannot queue or run the requests");

        g_autofree char *n_s = grouped(big_n), *d_s = grouped(big_n / 10), *c_s = grouped(completions);
        g_autofree char *fig = g_strdup_printf("per completion, %s queued over %s domains", n_s, d_s);
        g_autofree char *note = g_strdup_printf("baseline: 10 queued over 10 domains; the loop thread's CPU time, "
                                                "median of %u runs of %s completions; prepare() ends each job "
                                                "(no worker thread)", runs, c_s);
        g_autofree char *tnote = g_strdup_printf("median of %u runs; worker threads that do nothing", thread_runs);
        g_autofree char *tfig = g_strdup_printf("total time, %s queued (info)", n_s);
        g_autofree char *totnote = g_strdup_printf("queueing, %s completions and cancelling the rest, no worker "
                                                   "threads; with them: %.0f ms", c_s, tbig.total_ms);
        add_row(C, fig, "µs", big.cpu_ms * 1000, base.cpu_ms * 1000, "≤ 2 × base", big.cpu_ms <= 2 * base.cpu_ms,
                note);
        add_row(C, "per completion with a worker thread each (info)", "µs", tbig.cpu_ms * 1000, tbase.cpu_ms * 1000,
                "-", -1, tnote);
        add_row(C, "scheduler steps per completion (info)", "steps", big.steps, base.steps, "-", -1,
                "scheduler_debug_steps(): hash probes, domains visited, jobs started");
        add_row(C, tfig, "ms", big.total_ms, NAN, "-", -1, totnote);
}

void host_scheduler(void) {
        if (want("scheduler"))
                case_scheduler();
}
