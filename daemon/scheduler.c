/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "log.h"
#include "scheduler.h"
#include "util.h"

/* Finished jobs travel from workers to the loop through this list and an
 * eventfd: workers never call back into loop-owned state. */
typedef struct Finished {
        SchedJob *job;
        pthread_t thread;
        bool has_thread;         /* false: prepare() stopped it, nothing to join */
        struct Finished *next;
} Finished;

struct Scheduler {
        sd_event_source *source;
        int efd;
        unsigned max_parallel;
        SchedJob *head, *tail;   /* queued and running, in arrival order */
        unsigned n_running, n_queued;

        pthread_mutex_t lock;    /* protects finished */
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

static void unlink_job(Scheduler *s, SchedJob *j) {
        if (j->prev)
                j->prev->next = j->next;
        else
                s->head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                s->tail = j->prev;
        j->prev = j->next = NULL;
}

typedef struct WorkerArgs {
        Scheduler *sched;
        SchedJob *job;
} WorkerArgs;

/* Hands a finished job to the loop (complete_finished). */
static void post_finished(Scheduler *s, SchedJob *j, bool from_worker) {
        Finished *f = calloc(1, sizeof *f);
        pthread_mutex_lock(&s->lock);
        if (f) {
                f->job = j;
                f->has_thread = from_worker;
                if (from_worker)
                        f->thread = pthread_self();
                f->next = s->finished;
                s->finished = f;
        }
        pthread_mutex_unlock(&s->lock);
        /* Without memory for the note the job would never complete: better
         * to crash loudly than to leave a caller waiting forever. */
        if (!f)
                abort();
        uint64_t one = 1;
        (void) !write(s->efd, &one, sizeof one);
}

static void *worker(void *p) {
        WorkerArgs *a = p;
        Scheduler *s = a->sched;
        SchedJob *j = a->job;
        free(a);

        j->run(j);
        post_finished(s, j, true);
        return NULL;
}

static int start_job(Scheduler *s, SchedJob *j) {
        WorkerArgs *a = malloc(sizeof *a);
        pthread_t t;
        pthread_attr_t attr;

        if (!a)
                return -ENOMEM;
        *a = (WorkerArgs) { s, j };
        if (j->prepare && !j->prepare(j)) {
                free(a);
                /* done() comes from the loop, as for every job */
                j->running = true;
                s->n_running++;
                s->n_queued--;
                post_finished(s, j, false);
                return 0;
        }
        pthread_attr_init(&attr);
        /* resets do sysfs writes and short config accesses: small stacks keep
         * 32+ parallel resets cheap */
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int r = pthread_create(&t, &attr, worker, a);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                free(a);
                return -r;
        }
        j->running = true;
        s->n_running++;
        s->n_queued--;
        /* signalled once the worker really exists */
        if (j->started)
                j->started(j);
        return 0;
}

/* Starts every queued job that conflicts with nothing before it. */
static void dispatch(Scheduler *s) {
        for (SchedJob *j = s->head; j && s->n_running < s->max_parallel; j = j->next) {
                if (j->running)
                        continue;
                bool blocked = false;
                for (SchedJob *o = s->head; o != j; o = o->next)
                        if (sched_domains_conflict(o->domain, o->link, j->domain, j->link)) {
                                blocked = true;
                                break;
                        }
                if (blocked)
                        continue;
                int r = start_job(s, j);
                if (r < 0) {
                        /* retried when the next job finishes or is submitted */
                        log_warning_errno(r, "Cannot start a worker thread: %m");
                        return;
                }
        }
}

/* Joins the workers that finished and calls their jobs' done(). */
static void complete_finished(Scheduler *s) {
        uint64_t v;
        (void) !read(s->efd, &v, sizeof v);

        pthread_mutex_lock(&s->lock);
        Finished *list = s->finished;
        s->finished = NULL;
        pthread_mutex_unlock(&s->lock);

        while (list) {
                Finished *f = list;
                list = f->next;
                if (f->has_thread)
                        pthread_join(f->thread, NULL);
                SchedJob *j = f->job;
                free(f);
                unlink_job(s, j);
                j->running = false;
                s->n_running--;
                j->sched = NULL;
                j->done(j);
        }
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
        sd_event_source_disable_unref(s->source);
        close(s->efd);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int scheduler_submit(Scheduler *s, SchedJob *j) {
        j->sched = s;
        j->running = false;
        j->next = NULL;
        j->prev = s->tail;
        if (s->tail)
                s->tail->next = j;
        else
                s->head = j;
        s->tail = j;
        s->n_queued++;
        dispatch(s);
        return 0;
}

int scheduler_cancel(Scheduler *s, SchedJob *j) {
        if (j->sched != s)
                return -ENOENT;
        if (j->running)
                return -EBUSY;
        unlink_job(s, j);
        s->n_queued--;
        j->sched = NULL;
        dispatch(s);
        return 0;
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
