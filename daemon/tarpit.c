/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "log.h"
#include "tarpit.h"
#include "util.h"

typedef struct Held Held;
/* The reply, made at once; not the call: a call keeps the fds it came
 * with open, and a flood of fd-carrying calls held for 250 ms would pin
 * thousands of them (RLIMIT_NOFILE is everyone's). */
struct Held {
        sd_bus_message *reply;
        char *sender;
        uid_t uid;
        uint64_t due;
        Held *next;
};

struct Tarpit {
        sd_event_source *timer;
        Held *head, *tail;      /* in order of due: every one waits the same */
        unsigned n;
};

static void held_free(Held *h) {
        sd_bus_message_unref(h->reply);
        free(h->sender);
        free(h);
}

static void answer(Held *h) {
        int r = sd_bus_send(NULL, h->reply, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot answer a held refusal: %m");
        held_free(h);
}

/* Takes the first one off the list. */
static Held *pop(Tarpit *t) {
        Held *h = t->head;
        t->head = h->next;
        if (!t->head)
                t->tail = NULL;
        t->n--;
        return h;
}

static int arm(Tarpit *t) {
        if (!t->head)
                return sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
        int r = sd_event_source_set_time(t->timer, t->head->due);
        return r < 0 ? r : sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
}

static int on_due(sd_event_source *s, uint64_t usec, void *userdata) {
        Tarpit *t = userdata;
        uint64_t now = now_usec();

        while (t->head && t->head->due <= now)
                answer(pop(t));
        int r = arm(t);
        if (r < 0)
                log_warning_errno(r, "Cannot time held refusals: %m");
        return 0;
}

int tarpit_new(sd_event *e, Tarpit **ret) {
        Tarpit *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        int r = sd_event_add_time(e, &t->timer, CLOCK_MONOTONIC, 0, 0, on_due, t);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
        if (r < 0) {
                tarpit_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

Tarpit *tarpit_free(Tarpit *t) {
        if (!t)
                return NULL;
        while (t->head)
                answer(pop(t));
        sd_event_source_disable_unref(t->timer);
        free(t);
        return NULL;
}

int tarpit_hold(Tarpit *t, sd_bus_message *call, uid_t uid, const sd_bus_error *error) {
        unsigned mine = 0;

        if (t->n >= TARPIT_MAX)
                return 0;
        for (Held *h = t->head; h; h = h->next)
                if (h->uid == uid && ++mine >= TARPIT_MAX_PER_UID)
                        return 0;
        Held *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        int r = sd_bus_message_new_method_error(call, &h->reply, error);
        h->sender = strdup(sd_bus_message_get_sender(call) ?: "");
        if (r < 0 || !h->sender) {
                held_free(h);
                return r < 0 ? r : -ENOMEM;
        }
        h->uid = uid;
        /* the clock the timer runs on: now_usec() is CLOCK_MONOTONIC */
        h->due = now_usec() + TARPIT_DELAY_USEC;
        if (t->tail)
                t->tail->next = h;
        else
                t->head = h;
        t->tail = h;
        t->n++;
        if (t->head == h && (r = arm(t)) < 0) {
                /* cannot be timed: not held */
                t->head = t->tail = NULL;
                t->n--;
                held_free(h);
                return r;
        }
        return 1;
}

void tarpit_forget_sender(Tarpit *t, const char *sender) {
        Held **p = &t->head, *last = NULL;
        while (*p) {
                Held *h = *p;
                if (streq_ptr(h->sender, sender)) {
                        *p = h->next;
                        t->n--;
                        held_free(h);
                } else {
                        last = h;
                        p = &h->next;
                }
        }
        t->tail = last;
        (void) arm(t);
}

unsigned tarpit_n_held(const Tarpit *t) {
        return t->n;
}
