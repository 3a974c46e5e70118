/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "user-limits.h"
#include "util.h"

#define RATE_WINDOW_USEC (60 * USEC_PER_SEC)

/* Accepted resets of one uid in the last minute, oldest first. */
typedef struct Window Window;
struct Window {
        uid_t uid;
        uint64_t *stamps;
        unsigned n, allocated;
        Window *next;
};

struct Limits {
        const Config *config;
        Window *windows;
};

int limits_new(const Config *config, Limits **ret) {
        Limits *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->config = config;
        *ret = l;
        return 0;
}

static void window_free(Window *w) {
        free(w->stamps);
        free(w);
}

Limits *limits_free(Limits *l) {
        if (!l)
                return NULL;
        while (l->windows) {
                Window *w = l->windows;
                l->windows = w->next;
                window_free(w);
        }
        free(l);
        return NULL;
}

/* Drops stamps older than a minute, and windows left empty. */
static void expire(Limits *l, uint64_t now) {
        uint64_t cutoff = now > RATE_WINDOW_USEC ? now - RATE_WINDOW_USEC : 0;

        for (Window **p = &l->windows; *p;) {
                Window *w = *p;
                unsigned k = 0;
                while (k < w->n && w->stamps[k] <= cutoff)
                        k++;
                memmove(w->stamps, w->stamps + k, (w->n - k) * sizeof(uint64_t));
                w->n -= k;
                if (w->n == 0) {
                        *p = w->next;
                        window_free(w);
                } else
                        p = &w->next;
        }
}

static Window *find_window(Limits *l, uid_t uid) {
        for (Window *w = l->windows; w; w = w->next)
                if (w->uid == uid)
                        return w;
        return NULL;
}

int limits_admit(Limits *l, uid_t uid, unsigned n_queued, uint64_t now, char **ret_message) {
        const Config *c = l->config;

        if (n_queued >= c->max_queued_per_user)
                return set_errorf(ret_message, -EUSERS,
                                  "uid %u already has %u resets queued (MaxQueuedPerUser=%u); wait for them",
                                  (unsigned) uid, c->max_queued_per_user, c->max_queued_per_user);
        /* root is the admin: not rate limited */
        if (uid == 0)
                return 0;
        expire(l, now);
        Window *w = find_window(l, uid);
        if (w && w->n >= c->max_per_minute)
                return set_errorf(ret_message, -EUSERS,
                                  "uid %u made %u resets in the last minute (MaxResetsPerMinute=%u); try again later",
                                  (unsigned) uid, c->max_per_minute, c->max_per_minute);
        return 0;
}

void limits_note_accepted(Limits *l, uid_t uid, uint64_t now) {
        if (uid == 0)
                return;
        Window *w = find_window(l, uid);
        if (!w) {
                w = calloc(1, sizeof *w);
                if (!w)
                        return; /* not counted: the limit errs towards the caller, never towards a crash */
                w->uid = uid;
                w->next = l->windows;
                l->windows = w;
        }
        if (w->n == w->allocated) {
                unsigned a = w->allocated ? w->allocated * 2 : 8;
                uint64_t *s = reallocarray(w->stamps, a, sizeof(uint64_t));
                if (!s)
                        return;
                w->stamps = s;
                w->allocated = a;
        }
        w->stamps[w->n++] = now;
}

void limits_forget_accepted(Limits *l, uid_t uid, uint64_t when) {
        Window *w = find_window(l, uid);
        for (unsigned i = 0; w && i < w->n; i++)
                if (w->stamps[i] == when) {
                        memmove(w->stamps + i, w->stamps + i + 1, (w->n - i - 1) * sizeof(uint64_t));
                        w->n--;
                        return;
                }
}

uint64_t limits_queue_wait_usec(const Limits *l) {
        return (uint64_t) l->config->max_wait_sec * USEC_PER_SEC;
}

unsigned limits_n_windows(Limits *l, uint64_t now) {
        unsigned n = 0;

        expire(l, now);
        for (Window *w = l->windows; w; w = w->next)
                n++;
        return n;
}
