/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "log.h"
#include "scanner.h"
#include "util.h"
#include "vfio-watch.h"
#include "worker-thread.h"

typedef struct Waiter Waiter;
struct Waiter {
        sd_bus_message *call;
        uid_t uid;
        bool satisfied;         /* its scan finished: the next get() of it uses the last scan */
        int error;              /* ... or that scan failed (or never started) */
        uint64_t generation;    /* the scan it waits for */
        uint64_t woken_round;   /* Scanner.rounds when it was woken */
        Waiter *next;
};

struct Scanner {
        char *proc_root, *sysfs_root;
        sd_event_source *source;
        int efd;

        Holders *last;          /* the last scan that succeeded */
        uint64_t last_at;       /* when it started */
        uint64_t last_stamp;    /* the watch's stamp when it started */
        VfioWatch *watch;       /* NULL: no trust beyond SCANNER_SHARE_USEC */
        int last_error;         /* the last scan's failure, 0 if it succeeded */
        uint64_t generation;    /* of the last one started */

        bool running;           /* a worker scans */
        bool cancel;            /* set when freed: the worker gives up */
        WorkerThread thread;
        Holders *result;        /* the worker's, handed over through efd */
        int result_r;
        uint64_t started_at, started_stamp;
        bool again;             /* waiters came during the running scan: one more after it */

        Waiter *waiters;
        unsigned n_waiters;     /* not woken yet */
        uint64_t rounds;        /* finished scans (drop_uncollected) */
};

static void *scan_worker(void *p) {
        Scanner *s = p;
        Holders *h = NULL;

        s->result_r = holders_scan_cancellable(s->proc_root, s->sysfs_root, &s->cancel, &h);
        s->result = h;
        uint64_t one = 1;
        (void) !write(s->efd, &one, sizeof one);
        return NULL;
}

static int start_scan(Scanner *s) {
        s->generation++;
        /* stamped before the worker reads anything: a node that changes
         * hands during the scan makes the scan untrusted */
        s->started_stamp = s->watch ? vfio_watch_stamp(s->watch) : 0;
        s->started_at = now_usec();
        s->again = false;
        int r = worker_thread_start(&s->thread, scan_worker, s);
        if (r < 0)
                return r;
        s->running = true;
        return 0;
}

static void waiter_free(Waiter *w) {
        sd_bus_message_unref(w->call);
        free(w);
}

/* A woken waiter whose call did not collect it (its handler returned
 * before scanner_get()) waits for nothing; it must not hold its call, or
 * memory, for as long as the caller stays. Dropped once two more scans
 * finished: by then its call was long dispatched (dropping it before would
 * only make the call wait for another scan). Called once per finished scan. */
static void drop_uncollected(Scanner *s) {
        s->rounds++;
        for (Waiter **p = &s->waiters; *p;) {
                Waiter *w = *p;
                if (w->satisfied && s->rounds - w->woken_round >= 2) {
                        *p = w->next;
                        waiter_free(w);
                } else
                        p = &w->next;
        }
}

/* Puts every waiter of a finished scan back into its bus's read queue,
 * with the scan's error (0: the last scan is theirs). A woken waiter no
 * longer counts as waiting (the caps of scanner_wait()). */
static void wake(Scanner *s, uint64_t generation, int error) {
        for (Waiter *w = s->waiters; w; w = w->next) {
                if (w->satisfied || w->generation > generation)
                        continue;
                w->satisfied = true;
                w->woken_round = s->rounds;
                w->error = error;
                s->n_waiters--;
                int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(w->call), w->call);
                if (r < 0)
                        log_warning_errno(r, "Cannot put a call back after a /proc scan: %m");
        }
}

static int on_scan_done(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Scanner *s = userdata;
        uint64_t v;

        (void) !read(s->efd, &v, sizeof v);
        if (!s->running)
                return 0;
        worker_thread_join(&s->thread);
        s->running = false;
        drop_uncollected(s);
        s->last_error = s->result_r < 0 ? s->result_r : 0;
        if (s->result_r < 0)
                log_warning_errno(s->result_r, "Scanning %s for open VFIO nodes failed: %m", s->proc_root);
        else {
                holders_free(s->last);
                s->last = TAKE_PTR(s->result);
                s->last_at = s->started_at;
                s->last_stamp = s->started_stamp;
        }
        /* the waiters run again: with this scan, or with its error */
        wake(s, s->generation, s->last_error);
        /* those who came during it need one that started after them: if
         * it cannot start, they get an error, never this older scan */
        int r;
        if (s->again && (r = start_scan(s)) < 0)
                wake(s, s->generation + 1, r);
        return 0;
}

int scanner_new(sd_event *e, const char *proc_root, const char *sysfs_root, const char *dev_root, Scanner **ret) {
        Scanner *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        s->proc_root = strdup(proc_root);
        s->sysfs_root = strdup(sysfs_root);
        if (s->efd < 0 || !s->proc_root || !s->sysfs_root) {
                r = s->efd < 0 ? -errno : -ENOMEM;
                scanner_free(s);
                return r;
        }
        r = sd_event_add_io(e, &s->source, s->efd, EPOLLIN, on_scan_done, s);
        if (r < 0) {
                scanner_free(s);
                return r;
        }
        if (dev_root) {
                r = vfio_watch_new(dev_root, &s->watch);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch the VFIO nodes below %s, every informational call "
                                          "scans /proc again: %m", dev_root);
        }
        /* the first informational call should not wait: a scan to trust */
        if (s->watch && (r = start_scan(s)) < 0)
                log_warning_errno(r, "Cannot start the first scan of open files: %m");
        *ret = s;
        return 0;
}

Scanner *scanner_free(Scanner *s) {
        if (!s)
                return NULL;
        if (s->running) {
                __atomic_store_n(&s->cancel, true, __ATOMIC_RELAXED);
                worker_thread_join(&s->thread);
                holders_free(s->result);
        }
        /* put back whoever still waits (the others are in the read queue
         * already): they are answered as any call now */
        for (Waiter *w = s->waiters; w; w = w->next)
                if (!w->satisfied)
                        (void) sd_bus_enqueue_for_read(sd_bus_message_get_bus(w->call), w->call);
        while (s->waiters) {
                Waiter *w = s->waiters;
                s->waiters = w->next;
                waiter_free(w);
        }
        holders_free(s->last);
        vfio_watch_free(s->watch);
        sd_event_source_disable_unref(s->source);
        if (s->efd >= 0)
                close(s->efd);
        free(s->proc_root);
        free(s->sysfs_root);
        free(s);
        return NULL;
}

Holders *scanner_get(Scanner *s, sd_bus_message *call, bool fresh, int *ret_error) {
        *ret_error = 0;
        for (Waiter **p = &s->waiters; *p; p = &(*p)->next)
                if ((*p)->call == call && (*p)->satisfied) {
                        Waiter *w = *p;
                        int error = w->error;
                        *p = w->next;
                        waiter_free(w);
                        *ret_error = error;
                        return error < 0 ? NULL : s->last;
                }
        if (fresh || !s->last)
                return NULL;
        uint64_t age = now_usec() - s->last_at;
        /* with a watch, a node that changed hands since the scan started
         * makes it stale at once, young or not */
        if (s->watch)
                return age < SCANNER_TRUST_USEC && !vfio_watch_changed_since(s->watch, s->last_stamp) ? s->last
                                                                                                    : NULL;
        return age < SCANNER_SHARE_USEC ? s->last : NULL;
}

Holders *scanner_last(Scanner *s) {
        return s->last;
}

int scanner_wait(Scanner *s, sd_bus_message *call, uid_t uid, bool fresh) {
        unsigned mine = 0;
        for (Waiter *w = s->waiters; w; w = w->next)
                mine += w->uid == uid && !w->satisfied;
        /* one uid's flood of calls must not fill the waiting room for others
         * (a woken call no longer waits: it is not counted) */
        if (mine >= SCANNER_MAX_WAITERS_PER_UID || s->n_waiters >= SCANNER_MAX_WAITERS)
                return -EBUSY;
        Waiter *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->call = sd_bus_message_ref(call);
        w->uid = uid;
        if (!s->running) {
                int r = start_scan(s);
                if (r < 0) {
                        waiter_free(w);
                        return r;
                }
                w->generation = s->generation;
        } else if (!fresh)
                /* an informational call: a scan a little older than the
                 * call will do (it may trust one seconds old anyway) */
                w->generation = s->generation;
        else {
                /* the running scan may have passed what this call needs */
                s->again = true;
                w->generation = s->generation + 1;
        }
        w->next = s->waiters;
        s->waiters = w;
        s->n_waiters++;
        return 0;
}

void scanner_forget_sender(Scanner *s, const char *sender) {
        for (Waiter **p = &s->waiters; *p;) {
                Waiter *w = *p;
                if (streq_ptr(sd_bus_message_get_sender(w->call), sender)) {
                        *p = w->next;
                        if (!w->satisfied)
                                s->n_waiters--;
                        waiter_free(w);
                } else
                        p = &w->next;
        }
}

unsigned scanner_n_waiting(const Scanner *s) {
        return s->n_waiters;
}
