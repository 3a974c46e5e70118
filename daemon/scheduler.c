/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "log.h"
#include "scheduler.h"
#include "worker-thread.h"
#include "util.h"

/*
 * Which queued job may start, without looking at the queue.
 *
 * Jobs are numbered in arrival order (seq). A job is "in" the scheduler from
 * its submit until its done() or its cancel. Every domain path that has jobs
 * in, and every ancestor path of one, is a Domain, found by a hash table on
 * the path and linked to its parent (the path up to its last '/': exactly
 * the ancestors sched_domains_conflict() sees) and children. A Domain keeps
 * its jobs that are in, and separately its link jobs, in arrival order; the
 * first of each list is its head and its link head.
 *
 * 1. The contract, "J conflicts with no running job and no job queued
 *    before it", is "no earlier job that conflicts with J is in": a running
 *    job R that came after J and conflicts with it cannot exist, as R would
 *    have started while J, earlier and conflicting, was queued.
 *
 * 2. The earlier jobs conflicting with J at domain P are (a) earlier jobs at
 *    P, (b) earlier link jobs at each ancestor A of P, (c) if J is a link
 *    job, earlier jobs at each descendant D of P; nothing else conflicts.
 *    One job per domain tells whether any of them is in: each list is in
 *    arrival order, so a job of it earlier than J is in iff its first one
 *    is earlier than J. (a) is empty iff J is P's head, (b) iff every
 *    ancestor's link head is absent or later than J, (c) iff every
 *    descendant's head is absent or later. This is "waiting for the last
 *    earlier job of each domain" seen from the list's other end: that last
 *    one cannot finish before every earlier job of its domain has left, as
 *    they conflict with it. Asking the list's head instead of remembering
 *    that job stays right when jobs are cancelled out of order.
 *
 * 3. So a domain's head H, while queued, keeps a count, blockers: the
 *    ancestors (b) and, for a link job, descendants (c) that hold an earlier
 *    job of the kind. Jobs behind the head need no count: they wait for
 *    being head (a). The count is computed when H becomes head (O(depth +
 *    domains below H if a link)) and changes only when another domain's
 *    head or link head changes:
 *     - a domain gets its first (link) job: the newcomer is later than every
 *       queued head, so it holds none of them back: no count changes;
 *     - a head (link head) X of domain D leaves and Y, the next one, or
 *       none, takes its place: exactly the heads that came after X and
 *       before Y counted D and do not any more. For a head those are link
 *       heads at D's ancestors (O(depth)); for a link head, heads at D's
 *       descendants (O(domains below D)).
 *    Nothing else moves a head or a link head, so the count stays exact.
 *
 * 4. A head with no blockers may start; it goes to the ready FIFO and stays
 *    there until it starts or is cancelled: whatever comes later cannot
 *    hold it back (3), and counts only fall. The ready FIFO is started from
 *    whenever fewer than max_parallel jobs run, so every job that may start
 *    does, unless max_parallel jobs run, and nothing starves: a queued job
 *    waits only for earlier ones, which finish or are cancelled, then for
 *    the ready jobs ahead of it. Ready jobs never conflict with one another
 *    (the later one would wait for the earlier), so the order they start in
 *    is free; first ready, first started.
 *
 * Cancelling is taking a job out of its lists and counting down as in (3):
 * no job depends on another job, only on the heads of domains. Per-job
 * edges ("J waits for the last earlier job of each conflicting domain; a
 * cancelled job's dependents inherit its dependencies that conflict with
 * them") get this wrong: link reset K, function reset N and link reset X at
 * bridge A, then J below A. J waits for X, X for N, N for K; cancel X, and
 * J inherits nothing (N does not conflict with J), so J would start while
 * K runs. /scheduler/model-cancel-link in the unit tests is that case.
 *
 * Cost: a submit, cancel or completion visits the ancestors of one domain,
 * and the domains below it when a link job is involved; the hash table
 * doubles when it fills (amortized O(1) per new domain). None of it depends
 * on how many jobs are queued.
 */

/* Finished jobs travel from workers to the loop through this list and an
 * eventfd: workers never call back into loop-owned state. */
typedef struct WorkerArgs WorkerArgs;
typedef struct Finished {
        SchedJob *job;
        WorkerArgs *worker;      /* NULL: prepare() stopped it, nothing to join */
        struct Finished *next;
} Finished;

typedef struct SchedDomain Domain;
struct SchedDomain {
        Domain *hnext;                   /* hash chain */
        uint64_t hash;
        Domain *parent, *children, *sib_prev, *sib_next;
        SchedJob *head, *tail;           /* its jobs that are in, in arrival order */
        SchedJob *link_head, *link_tail; /* its link jobs among them */
        size_t len;
        char path[];                     /* not NUL-terminated */
};

struct Scheduler {
        sd_event_source *source;
        int efd;
        unsigned max_parallel;
        unsigned n_running, n_queued;
        bool completing;         /* in complete_finished(): nothing starts before the joins */
        bool held;               /* scheduler_hold(): nothing starts any more */
        uint64_t seq;                    /* the last arrival number given */
        uint64_t steps;                  /* scheduler_debug_steps() */

        Domain **buckets;                /* n_buckets, a power of two */
        size_t n_buckets, n_domains;
        SchedJob *ready_head, *ready_tail; /* queued heads with no blockers */

        pthread_mutex_t lock;            /* protects finished */
        Finished *finished;
};

static bool is_prefix_path(const char *ancestor, const char *path) {
        size_t n = strlen(ancestor);
        return strncmp(ancestor, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool sched_domains_conflict(const char *a, bool a_link, const char *b, bool b_link) {
        if (streq(a, b))
                return true;
        if (a_link && is_prefix_path(a, b))
                return true;
        if (b_link && is_prefix_path(b, a))
                return true;
        return false;
}

/* ---- the domains ---------------------------------------------------------- */

static uint64_t path_hash(const char *p, size_t len) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) p[i]) * 1099511628211ULL;
        return h;
}

static Domain *domain_find(Scheduler *s, const char *path, size_t len, uint64_t hash) {
        if (!s->buckets)
                return NULL;
        for (Domain *d = s->buckets[hash & (s->n_buckets - 1)]; d; d = d->hnext) {
                s->steps++;
                if (d->hash == hash && d->len == len && memcmp(d->path, path, len) == 0)
                        return d;
        }
        return NULL;
}

/* Twice the buckets when there are as many domains as buckets; without
 * memory for that the chains just get longer. */
static void buckets_grow(Scheduler *s) {
        size_t n = s->n_buckets ? s->n_buckets * 2 : 64;
        Domain **b = calloc(n, sizeof(Domain *));
        if (!b)
                return;
        for (size_t i = 0; i < s->n_buckets; i++)
                for (Domain *d = s->buckets[i], *next; d; d = next) {
                        s->steps++;
                        next = d->hnext;
                        d->hnext = b[d->hash & (n - 1)];
                        b[d->hash & (n - 1)] = d;
                }
        free(s->buckets);
        s->buckets = b;
        s->n_buckets = n;
}

/* Frees d and its ancestors up from it as long as they hold no job and no
 * child. */
static void domain_release(Scheduler *s, Domain *d) {
        while (d && !d->head && !d->children) {
                Domain *parent = d->parent;
                s->steps++;
                for (Domain **p = &s->buckets[d->hash & (s->n_buckets - 1)];; p = &(*p)->hnext)
                        if (*p == d) {
                                *p = d->hnext;
                                break;
                        }
                if (d->sib_prev)
                        d->sib_prev->sib_next = d->sib_next;
                else if (parent)
                        parent->children = d->sib_next;
                if (d->sib_next)
                        d->sib_next->sib_prev = d->sib_prev;
                s->n_domains--;
                free(d);
                d = parent;
        }
}

/* The domain of path[0..len), made with its ancestors if need be; NULL
 * without memory. */
static Domain *domain_get(Scheduler *s, const char *path, size_t len) {
        uint64_t hash = path_hash(path, len);
        Domain *d = domain_find(s, path, len, hash), *parent = NULL;
        if (d)
                return d;
        const char *slash = memrchr(path, '/', len);
        if (slash) {
                parent = domain_get(s, path, (size_t) (slash - path));
                if (!parent)
                        return NULL;
        }
        if (s->n_domains >= s->n_buckets)
                buckets_grow(s);
        d = s->buckets ? calloc(1, sizeof *d + len) : NULL;
        if (!d) {
                domain_release(s, parent); /* the ancestors made just now */
                return NULL;
        }
        s->steps++;
        d->hash = hash;
        d->len = len;
        memcpy(d->path, path, len);
        d->hnext = s->buckets[hash & (s->n_buckets - 1)];
        s->buckets[hash & (s->n_buckets - 1)] = d;
        s->n_domains++;
        d->parent = parent;
        if (parent) {
                d->sib_next = parent->children;
                if (parent->children)
                        parent->children->sib_prev = d;
                parent->children = d;
        }
        return d;
}

/* The next domain below root after d, depth first; NULL after the last. */
static Domain *below_next(Scheduler *s, Domain *d, Domain *root) {
        s->steps++;
        if (d->children)
                return d->children;
        for (; d != root; d = d->parent)
                if (d->sib_next)
                        return d->sib_next;
        return NULL;
}

#define FOREACH_BELOW(s, d, root) \
        for (Domain *d = below_next(s, root, root); d; d = below_next(s, d, root))

/* ---- readiness ------------------------------------------------------------ */

static void ready_push(Scheduler *s, SchedJob *j) {
        j->ready = true;
        j->ready_next = NULL;
        j->ready_prev = s->ready_tail;
        if (s->ready_tail)
                s->ready_tail->ready_next = j;
        else
                s->ready_head = j;
        s->ready_tail = j;
}

static void ready_remove(Scheduler *s, SchedJob *j) {
        if (!j->ready)
                return;
        if (j->ready_prev)
                j->ready_prev->ready_next = j->ready_next;
        else
                s->ready_head = j->ready_next;
        if (j->ready_next)
                j->ready_next->ready_prev = j->ready_prev;
        else
                s->ready_tail = j->ready_prev;
        j->ready_prev = j->ready_next = NULL;
        j->ready = false;
}

/* h just became its domain's head: count what holds it back (3). */
static void head_arrived(Scheduler *s, SchedJob *h) {
        unsigned n = 0;
        for (Domain *a = h->dom->parent; a; a = a->parent) {
                s->steps++;
                n += a->link_head && a->link_head->seq < h->seq;
        }
        if (h->link)
                FOREACH_BELOW(s, d, h->dom)
                        n += d->head && d->head->seq < h->seq;
        h->blockers = n;
        if (n == 0)
                ready_push(s, h);
}

/* h, a queued head, no longer waits for one domain; it came after that
 * domain's old head (or link head) and before the new one. */
static void unblock_if_between(Scheduler *s, SchedJob *h, uint64_t old_seq, uint64_t new_seq) {
        if (!h || h->running || h->seq < old_seq || h->seq > new_seq)
                return;
        assert(h->blockers > 0);
        if (--h->blockers == 0)
                ready_push(s, h);
}

/* x leaves the scheduler (finished or cancelled): out of its lists, and the
 * heads that waited for it (3) counted down. */
static void job_leave(Scheduler *s, SchedJob *x) {
        Domain *d = x->dom;
        bool was_head = d->head == x, was_link_head = d->link_head == x;

        ready_remove(s, x);
        if (x->prev)
                x->prev->next = x->next;
        else
                d->head = x->next;
        if (x->next)
                x->next->prev = x->prev;
        else
                d->tail = x->prev;
        if (x->link) {
                if (x->link_prev)
                        x->link_prev->link_next = x->link_next;
                else
                        d->link_head = x->link_next;
                if (x->link_next)
                        x->link_next->link_prev = x->link_prev;
                else
                        d->link_tail = x->link_prev;
        }
        x->prev = x->next = x->link_prev = x->link_next = NULL;
        x->dom = NULL;

        if (was_head) {
                /* link heads above that came after x waited for d, unless
                 * d's new head came before them too */
                uint64_t until = d->head ? d->head->seq : UINT64_MAX;
                for (Domain *a = d->parent; a; a = a->parent) {
                        s->steps++;
                        if (a->head && a->head->link)
                                unblock_if_between(s, a->head, x->seq, until);
                }
                if (d->head)
                        head_arrived(s, d->head);
        }
        if (was_link_head) {
                /* heads below that came after x waited for d, unless d's new
                 * link head came before them too */
                uint64_t until = d->link_head ? d->link_head->seq : UINT64_MAX;
                FOREACH_BELOW(s, e, d)
                        unblock_if_between(s, e->head, x->seq, until);
        }
        domain_release(s, d);
}

/* The loop's, from the start of a worker until it joined it. */
struct WorkerArgs {
        Scheduler *sched;
        SchedJob *job;
        WorkerThread thread;
};

/* Hands a finished job to the loop (complete_finished); worker: the
 * thread that ran it, NULL if none did. */
static void post_finished(Scheduler *s, SchedJob *j, WorkerArgs *worker) {
        Finished *f = calloc(1, sizeof *f);
        int efd = s->efd;
        pthread_mutex_lock(&s->lock);
        if (f) {
                f->job = j;
                f->worker = worker;
                f->next = s->finished;
                s->finished = f;
        }
        pthread_mutex_unlock(&s->lock);
        /* Without memory for the note the job would never complete: better
         * to crash loudly than to leave a caller waiting forever. */
        if (!f)
                abort();
        uint64_t one = 1;
        (void) !write(efd, &one, sizeof one);
}

static void *worker(void *p) {
        WorkerArgs *a = p;

        a->job->run(a->job);
        post_finished(a->sched, a->job, a);
        return NULL;
}

static int start_job(Scheduler *s, SchedJob *j) {
        WorkerArgs *a = malloc(sizeof *a);

        if (!a)
                return -ENOMEM;
        *a = (WorkerArgs) { .sched = s, .job = j };
        /* running before prepare(): whatever it calls back (a submit, a
         * cancel) sees this job taken */
        ready_remove(s, j);
        j->running = true;
        s->n_running++;
        s->n_queued--;
        if (j->prepare && !j->prepare(j)) {
                free(a);
                /* done() comes from the loop, as for every job */
                post_finished(s, j, NULL);
                return 0;
        }
        int r = worker_thread_start(&a->thread, worker, a);
        if (r < 0) {
                free(a);
                /* first in line again */
                j->running = false;
                s->n_running--;
                s->n_queued++;
                j->ready = true;
                j->ready_prev = NULL;
                j->ready_next = s->ready_head;
                if (s->ready_head)
                        s->ready_head->ready_prev = j;
                else
                        s->ready_tail = j;
                s->ready_head = j;
                return r;
        }
        /* signalled once the worker really exists */
        if (j->started)
                j->started(j);
        return 0;
}

/* Starts ready jobs while fewer than max_parallel run (none while held,
 * nor from a done(): on_finished() dispatches after the joins). */
static void dispatch(Scheduler *s) {
        while (!s->held && !s->completing && s->ready_head && s->n_running < s->max_parallel) {
                s->steps++;
                int r = start_job(s, s->ready_head);
                if (r < 0) {
                        /* retried when the next job finishes or is submitted */
                        log_warning_errno(r, "Cannot start a worker thread: %m");
                        return;
                }
        }
}

/* Calls the finished jobs' done(), then joins their workers. A worker is
 * still on its way out when its note arrives: joining first would make
 * every reply wait for a thread's exit (a sleep and a wake-up of the loop),
 * and the worker touches nothing of its job after posting it. */
static void complete_finished(Scheduler *s) {
        uint64_t v;
        (void) !read(s->efd, &v, sizeof v);

        pthread_mutex_lock(&s->lock);
        Finished *list = s->finished;
        s->finished = NULL;
        pthread_mutex_unlock(&s->lock);

        /* what a done() submits or unblocks starts once the joins gave the
         * finished workers' stacks back (dispatch() waits for them) */
        s->completing = true;
        for (Finished *f = list; f; f = f->next) {
                SchedJob *j = f->job;
                job_leave(s, j);
                j->running = false;
                s->n_running--;
                j->sched = NULL;
                j->done(j);
        }
        while (list) {
                Finished *f = list;
                list = f->next;
                if (f->worker) {
                        worker_thread_join(&f->worker->thread);
                        free(f->worker);
                }
                free(f);
        }
        s->completing = false;
}

static int on_finished(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Scheduler *s = userdata;
        complete_finished(s);
        dispatch(s);
        return 0;
}

int scheduler_new(sd_event *e, unsigned max_parallel, Scheduler **ret) {
        Scheduler *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        s->max_parallel = max_parallel ?: 1;
        s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->efd < 0) {
                int r = -errno;
                free(s);
                return r;
        }
        int r = sd_event_add_io(e, &s->source, s->efd, EPOLLIN, on_finished, s);
        if (r < 0) {
                close(s->efd);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void scheduler_drain(Scheduler *s) {
        while (s->n_running > 0) {
                struct pollfd pfd = { .fd = s->efd, .events = POLLIN };
                (void) poll(&pfd, 1, -1);
                /* no dispatch: nothing new may start while draining */
                complete_finished(s);
        }
}

Scheduler *scheduler_free(Scheduler *s) {
        if (!s)
                return NULL;
        scheduler_drain(s);
        /* jobs still queued are the caller's; they are no longer ours */
        for (size_t i = 0; i < s->n_buckets; i++)
                for (Domain *d = s->buckets[i], *next; d; d = next) {
                        next = d->hnext;
                        for (SchedJob *j = d->head; j; j = j->next)
                                j->sched = NULL;
                        free(d);
                }
        free(s->buckets);
        sd_event_source_disable_unref(s->source);
        close(s->efd);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int scheduler_submit(Scheduler *s, SchedJob *j) {
        Domain *d = domain_get(s, j->domain, strlen(j->domain));
        if (!d)
                return -ENOMEM;
        j->prev = j->next = j->link_prev = j->link_next = j->ready_prev = j->ready_next = NULL;
        j->dom = d;
        j->seq = ++s->seq;
        j->blockers = 0;
        j->running = j->ready = false;
        j->sched = s;
        j->prev = d->tail;
        if (d->tail)
                d->tail->next = j;
        else
                d->head = j;
        d->tail = j;
        if (j->link) {
                j->link_prev = d->link_tail;
                if (d->link_tail)
                        d->link_tail->link_next = j;
                else
                        d->link_head = j;
                d->link_tail = j;
        }
        s->n_queued++;
        /* the newest job holds back no queued head (3); it may be one */
        if (d->head == j)
                head_arrived(s, j);
        dispatch(s);
        return 0;
}

int scheduler_cancel(Scheduler *s, SchedJob *j) {
        if (j->sched != s)
                return -ENOENT;
        if (j->running)
                return -EBUSY;
        job_leave(s, j);
        s->n_queued--;
        j->sched = NULL;
        dispatch(s);
        return 0;
}

void scheduler_hold(Scheduler *s) {
        s->held = true;
}

void scheduler_set_max_parallel(Scheduler *s, unsigned max_parallel) {
        s->max_parallel = max_parallel ?: 1;
        dispatch(s);
}

unsigned scheduler_n_running(const Scheduler *s) {
        return s->n_running;
}

unsigned scheduler_n_queued(const Scheduler *s) {
        return s->n_queued;
}

uint64_t scheduler_debug_steps(const Scheduler *s) {
        return s->steps;
}
