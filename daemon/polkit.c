/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "log.h"
#include "polkit.h"
#include "util.h"


typedef struct Query Query;
struct Query {
        PolkitRegistry *registry;
        sd_bus_message *call;
        sd_bus_message *question;  /* CheckAuthorization, until it is sent */
        uint64_t asked_at;
        sd_bus_slot *slot;
        char *sender;
        uid_t uid;
        bool interactive;
        bool done;
        PolkitAnswer answer;     /* with the question it answers (action, details) */
        Query *prev, *next;
};

struct PolkitRegistry {
        Query *queries;
        unsigned n;
        const Config *config;
};

void polkit_answer_done(PolkitAnswer *a) {
        free(a->error_name);
        free(a->error_message);
        free(a->action);
        strv_free(a->details);
        if (a->kept.data && a->kept.free)
                a->kept.free(a->kept.data);
        *a = (PolkitAnswer) {};
}

int polkit_registry_new(const Config *config, PolkitRegistry **ret) {
        *ret = calloc(1, sizeof(PolkitRegistry));
        if (!*ret)
                return -ENOMEM;
        (*ret)->config = config;
        return 0;
}

/* Into the registry, newest first (pump() relies on the order). */
static void query_link(PolkitRegistry *reg, Query *q) {
        q->registry = reg;
        q->prev = NULL;
        q->next = reg->queries;
        if (reg->queries)
                reg->queries->prev = q;
        reg->queries = q;
        reg->n++;
}

static void query_free(Query *q) {
        PolkitRegistry *r = q->registry;
        if (q->prev)
                q->prev->next = q->next;
        else
                r->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        r->n--;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->question);
        sd_bus_message_unref(q->call);
        polkit_answer_done(&q->answer);
        free(q->sender);
        free(q);
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *r) {
        if (!r)
                return NULL;
        while (r->queries)
                query_free(r->queries);
        free(r);
        return NULL;
}

unsigned polkit_n_pending(const PolkitRegistry *r) {
        return r->n;
}

void polkit_take(PolkitRegistry *r, sd_bus_message *call, PolkitAnswer *ret) {
        *ret = (PolkitAnswer) {};
        for (Query *q = r->queries; q; q = q->next)
                if (q->call == call && q->done) {
                        *ret = q->answer;
                        ret->have = true;
                        q->answer = (PolkitAnswer) {};
                        query_free(q);
                        return;
                }
}

int polkit_put_back(PolkitRegistry *r, sd_bus_message *call, uid_t uid, PolkitAnswer *answer) {
        Query *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->sender = strdup(strempty(sd_bus_message_get_sender(call)));
        if (!q->sender) {
                free(q);
                return -ENOMEM;
        }
        q->uid = uid;
        q->call = sd_bus_message_ref(call);
        q->done = true;   /* answered: counts against no limit */
        q->answer = *answer;
        q->answer.have = false;
        *answer = (PolkitAnswer) {};
        query_link(r, q);
        return 0;
}

void polkit_cancel_pending(PolkitRegistry *r, const char *error_name, const char *message) {
        for (Query *q = r->queries, *next; q; q = next) {
                next = q->next;
                if (q->done)
                        continue; /* re-dispatched already: answered like any call now */
                (void) sd_bus_reply_method_errorf(q->call, error_name, "%s", message);
                query_free(q);
        }
}

static void pump(PolkitRegistry *reg);

void polkit_forget_sender(PolkitRegistry *r, const char *sender) {
        for (Query *q = r->queries, *next; q; q = next) {
                next = q->next;
                if (streq_ptr(q->sender, sender))
                        query_free(q);
        }
        pump(r);
}

/* The handler runs again and takes the answer. */
static void answered(Query *q) {
        q->done = true;
        q->question = sd_bus_message_unref(q->question);
        int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->call), q->call);
        if (r < 0) {
                log_error_errno(r, "Cannot re-dispatch a call after authorization: %m");
                (void) sd_bus_reply_method_errorf(q->call, SD_BUS_ERROR_FAILED, "internal error after authorization");
                query_free(q);
        }
}

static uint64_t timeout_usec(const PolkitRegistry *reg, bool interactive) {
        return (uint64_t) (interactive ? reg->config->polkit_interactive_timeout_sec
                                       : reg->config->polkit_timeout_sec) * USEC_PER_SEC;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* Sends a held question; one that waited its whole timeout behind the
 * uid's earlier ones is answered with an error instead. */
static void send_question(Query *q) {
        const PolkitRegistry *reg = q->registry;
        uint64_t timeout = timeout_usec(reg, q->interactive), waited = now_usec() - q->asked_at;
        int r = waited < timeout ? sd_bus_call_async(sd_bus_message_get_bus(q->call), &q->slot, q->question, on_reply,
                                                    q, timeout - waited)
                                 : -ETIMEDOUT;
        q->question = sd_bus_message_unref(q->question);
        if (r < 0) {
                q->answer.error_name = strdup(r == -ETIMEDOUT ? SD_BUS_ERROR_TIMEOUT : SD_BUS_ERROR_FAILED);
                q->answer.error_message = strdup(r == -ETIMEDOUT ? "the caller's earlier questions took too long"
                                                                 : strerror(-r));
                answered(q);
        }
}

/* polkitd answers one question at a time, in order: a uid has at most one
 * question of each kind there at once, and the rest wait here, so another
 * uid's question never queues behind a flood of them. */
static bool in_flight(const PolkitRegistry *reg, uid_t uid, bool interactive) {
        for (const Query *q = reg->queries; q; q = q->next)
                if (q->uid == uid && q->interactive == interactive && !q->done && !q->question)
                        return true;
        return false;
}

static void pump(PolkitRegistry *reg) {
        for (bool again = true; again;) {
                again = false;
                /* the list is newest first: the last held one is the oldest */
                Query *oldest = NULL;
                for (Query *q = reg->queries; q; q = q->next)
                        if (q->question && !in_flight(reg, q->uid, q->interactive))
                                oldest = q;
                if (oldest) {
                        send_question(oldest);
                        again = true;
                }
        }
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Query *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (e) {
                q->answer.error_name = strdup(e->name);
                q->answer.error_message = strdup(strempty(e->message));
        } else {
                int authorized, challenge;
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        q->answer.error_name = strdup(SD_BUS_ERROR_INCONSISTENT_MESSAGE);
                        q->answer.error_message = strdup("polkit sent a malformed CheckAuthorization reply");
                } else {
                        q->answer.authorized = authorized;
                        q->answer.challenge = challenge;
                }
        }
        PolkitRegistry *reg = q->registry;
        answered(q);   /* may free q */
        pump(reg);
        return 0;
}

static unsigned pending_of_uid(const PolkitRegistry *reg, uid_t uid) {
        unsigned n = 0;
        for (const Query *q = reg->queries; q; q = q->next)
                n += !q->done && q->uid == uid;
        return n;
}

static unsigned pending_of_kind(const PolkitRegistry *reg, bool interactive) {
        unsigned n = 0;
        for (const Query *q = reg->queries; q; q = q->next)
                n += !q->done && q->interactive == interactive;
        return n;
}

static int start_query(PolkitRegistry *reg, sd_bus_message *call, uid_t uid, const char *action,
                       char *const *details, PolkitKeep *keep) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus = sd_bus_message_get_bus(call);
        const char *sender = sd_bus_message_get_sender(call);
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        int r;

        if (!sender)
                return -EBADMSG;
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{ss}");
        for (size_t i = 0; r >= 0 && details && details[i] && details[i + 1]; i += 2)
                r = sd_bus_message_append(m, "{ss}", details[i], details[i + 1]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "us", (uint32_t) (interactive ? 1 : 0), "");
        if (r < 0)
                return r;

        /* before q is in the list: it would count itself */
        bool hold = in_flight(reg, uid, interactive);
        Query *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->uid = uid;
        q->interactive = interactive;
        q->sender = strdup(sender);
        q->call = sd_bus_message_ref(call);
        q->asked_at = now_usec();
        /* the answer is bound to this very question */
        q->answer.action = strdup(action);
        for (size_t i = 0; details && details[i]; i++)
                if (strv_extend(&q->answer.details, details[i]) < 0)
                        q->answer.action = mfree(q->answer.action);
        query_link(reg, q);
        if (!q->sender || !q->answer.action) {
                query_free(q);
                return -ENOMEM;
        }
        if (hold)
                q->question = TAKE_PTR(m);   /* sent when the uid's earlier one is answered */
        else {
                r = sd_bus_call_async(bus, &q->slot, m, on_reply, q, timeout_usec(reg, interactive));
                if (r < 0) {
                        query_free(q);
                        return r;
                }
        }
        if (keep) {
                q->answer.kept = *keep;
                *keep = (PolkitKeep) {};
        }
        return 0;
}

static int refuse_full(const PolkitRegistry *reg, sd_bus_message *call, uid_t uid, const char *what,
                       sd_bus_error *error) {
        /* one uid's flood of questions must not fill the line to polkitd
         * for everyone: a cap per uid, below one for all */
        unsigned mine = pending_of_uid(reg, uid);
        if (mine >= reg->config->max_pending_auth_per_user)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot %s now: uid %u already waits for %u authorizations "
                                         "(MaxPendingAuthorizationsPerUser=%u)", what, (unsigned) uid, mine,
                                         reg->config->max_pending_auth_per_user);
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        unsigned all = pending_of_kind(reg, interactive);
        if (all >= (interactive ? POLKIT_MAX_PENDING_INTERACTIVE : POLKIT_MAX_PENDING))
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot %s now: %u %sauthorizations are pending; try again shortly", what,
                                         all, interactive ? "interactive " : "");
        return 0;
}

int polkit_refuse_if_full(const PolkitRegistry *reg, sd_bus_message *call, uid_t uid, const char *what,
                          sd_bus_error *error) {
        return uid == 0 ? 0 : refuse_full(reg, call, uid, what, error);
}

int polkit_check(PolkitRegistry *reg, sd_bus_message *call, uid_t uid, const char *action, char *const *details,
                 const char *what, PolkitAnswer *answer, PolkitKeep *keep, sd_bus_error *error) {
        /* An answer is used only for the question it answered: when the
         * handler, run again, would now ask something else (another
         * method, other affected devices), polkit is asked that. */
        if (answer->have && (!streq_ptr(answer->action, action) || !strv_equal(answer->details, details))) {
                log_debug("The question changed while polkit answered (%s): asking again", what);
                polkit_answer_done(answer);
        }
        if (answer->have) {
                if (answer->error_name)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "Cannot %s: polkit could not be asked (%s: %s)", what,
                                                 answer->error_name, strempty(answer->error_message));
                if (answer->authorized)
                        return 1;
                if (answer->challenge && sd_bus_message_get_allow_interactive_authorization(call) <= 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                 "Interactive authentication is required to %s (polkit action %s); "
                                                 "run the client on a terminal or allow interactive authorization",
                                                 what, action);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized to %s (polkit action %s): ask an administrator for a polkit rule",
                                         what, action);
        }

        if (uid == 0)
                return 1;

        int r = refuse_full(reg, call, uid, what, error);
        if (r < 0)
                return r;
        r = start_query(reg, call, uid, action, details, keep);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot %s: cannot ask polkit: %s", what,
                                         strerror(-r));
        return 0;
}
