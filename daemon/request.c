/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>

#include "audit.h"
#include "bus.h"
#include "log.h"
#include "pcreset1.h"
#include "request.h"
#include "util.h"

typedef struct Request Request;

struct RequestQueue {
        sd_event *event;
        Scheduler *scheduler;
        Limits *limits;
        const DecisionContext *decide;
        Scanner *scanner;
        const ExecContext *exec;
        Handover *handover;
        Request *requests;      /* accepted, queued or running */
        Request *resetting;     /* those whose worker started: at most MaxParallelResets */
        unsigned n;
};

struct Request {
        RequestQueue *queue;
        sd_bus_message *call;
        char *sender, *unit;
        AuditCaller caller;     /* points into this request */
        uint32_t mask;
        bool ex;                /* ResetDeviceEx / WithFds: reply with details */
        char *domain;
        ExecRequest exec;       /* what was accepted, copied out of the topology */
        ExecResult result;
        SchedJob job;
        sd_event_source *wait_timer;   /* MaxQueueWaitSec while queued */
        uint64_t accepted_at;          /* its stamp in the caller's rate window */
        bool ran;                      /* the executor ran: it counts */
        bool resetting;                /* its worker started (loop's view): until done */
        uint64_t handover_since;       /* handover_mark() when it started */
        Request *reset_prev, *reset_next; /* in RequestQueue.resetting */
        bool claim;                    /* ClaimDeviceWithReset: claim the target once reset */
        bool owned[PLAN_MAX_AFFECTED]; /* by exec.affected: the caller's, as decided right before the run */
        Request *prev, *next;
};

static Request *job_request(SchedJob *j) {
        return (Request *) ((char *) j - offsetof(Request, job));
}

static char **request_affected(const Request *r) {
        char **l = calloc(r->exec.n_affected + 1, sizeof(char *));
        for (size_t i = 0; l && i < r->exec.n_affected; i++)
                if (!(l[i] = strdup(r->exec.affected[i].name)))
                        return strv_free(l);
        return l;
}

static const char *request_bridge(const Request *r) {
        /* a function reset goes through no bridge */
        bool link = r->exec.mechanism != MECHANISM_KERNEL_METHOD || (r->exec.scope & PCRESET_SCOPE_LINK);
        return link && r->exec.bridge.name[0] ? r->exec.bridge.name : NULL;
}

static void request_audit(const Request *r, AuditEvent event, const char *result, const char *detail) {
        _cleanup_strv_free_ char **aff = request_affected(r);
        /* only the executor fills it in */
        const HealthReport *health = r->ran ? &r->result.health : NULL;

        audit_log(&(AuditRecord) {
                .event = event, .caller = &r->caller, .device = r->exec.target.name, .mask = r->mask,
                .scope = r->exec.scope, .method = r->exec.kernel_method,
                .mechanism = reset_mechanism_to_string(r->exec.mechanism), .bridge = request_bridge(r),
                .affected = aff, .result = result, .detail = detail,
                .started_usec = r->result.started_usec, .usec = r->result.usec, .health = health,
        });
}

static Request *request_free(Request *r) {
        if (!r)
                return NULL;
        RequestQueue *q = r->queue;
        /* a reset that never ran does not count against the caller's rate */
        if (!r->ran)
                limits_forget_accepted(q->limits, r->caller.uid, r->accepted_at);
        if (r->prev)
                r->prev->next = r->next;
        else if (q->requests == r)
                q->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        q->n--;
        if (r->resetting) {
                if (r->reset_prev)
                        r->reset_prev->reset_next = r->reset_next;
                else
                        q->resetting = r->reset_next;
                if (r->reset_next)
                        r->reset_next->reset_prev = r->reset_prev;
        }
        sd_event_source_disable_unref(r->wait_timer);
        sd_bus_message_unref(r->call);
        free(r->sender);
        free(r->unit);
        free(r->domain);
        exec_request_done(&r->exec);
        exec_result_done(&r->result);
        free(r);
        return NULL;
}

static const char *exec_status_error(ExecStatus s) {
        switch (s) {
        case EXEC_OK:   return NULL;
        case EXEC_BUSY: return PCRESET1_ERROR_DEVICE_BUSY;
        case EXEC_GONE: return PCRESET1_ERROR_NO_SUCH_DEVICE;
        default:        return PCRESET1_ERROR_RESET_FAILED;
        }
}

/* Which affected devices were the caller's when the reset started. */
static void request_note_owned(Request *r, const Decision *d) {
        for (size_t j = 0; j < r->exec.n_affected && j < PLAN_MAX_AFFECTED; j++) {
                r->owned[j] = false;
                for (size_t i = 0; i < d->n_verdicts; i++)
                        if (streq(d->plan.affected[i]->name, r->exec.affected[j].name))
                                r->owned[j] = d->verdicts[i].state == DEVICE_OWNED;
        }
}

/* The reset completed on every device it touched (the executor verified
 * each came back with its own ids): each is clean now, then the caller's
 * use of those it owned by node or fd is what the next user must be
 * protected from. A mark that cannot be saved stays as it was. */
static void request_handover(Request *r) {
        Handover *h = r->queue->handover;
        if (!h)
                return;
        for (size_t j = 0; j < r->exec.n_affected; j++) {
                const ExecDevice *x = &r->exec.affected[j];
                (void) handover_reset_done(h, x->name, x->vendor_id, x->device_id, r->handover_since);
                if (j < PLAN_MAX_AFFECTED && r->owned[j])
                        (void) handover_used(h, x->name, x->vendor_id, x->device_id, r->exec.uid);
        }
}

/* ClaimDeviceWithReset's claim, right after its reset completed: NULL, or
 * the error name with *ret_message. Refused here as ClaimDevice refuses:
 * another uid's claim or VFIO node. Not checked again: open handles (the
 * reset was decided on a fresh scan moments ago, and a scan cannot run on
 * the loop); a process of another uid that opened the device during the
 * reset is still refused every later reset by the claim's owner (the
 * executor's fresh check). The reset stays done. */
static bool resetting_except(const RequestQueue *q, const char *address, const Request *except);

static const char *request_claim(Request *r, char **ret_message) {
        RequestQueue *q = r->queue;
        const ExecDevice *t = &r->exec.target;
        Claims *claims = q->exec->ownership.claims;
        uid_t uid = r->exec.uid, other = 0;

        int k = ownership_node_owner(&q->exec->ownership, t->syspath, &other);
        if (k > 0 && other != uid) {
                set_errorf(ret_message, 0, "%s was reset, but not claimed: its VFIO node belongs to another user now",
                           t->name);
                return PCRESET1_ERROR_DEVICE_BUSY;
        }
        /* as ClaimDevice: not in the middle of another reset (the
         * scheduler keeps resets of one device apart; this does not rely
         * on it) */
        if (resetting_except(q, t->name, r)) {
                set_errorf(ret_message, 0, "%s was reset, but not claimed: another reset that touches it is running",
                           t->name);
                return PCRESET1_ERROR_DEVICE_BUSY;
        }
        k = claims_add(claims, t->name, uid, t->vendor_id, t->device_id, &other);
        if (k == -EBUSY) {
                set_errorf(ret_message, 0, "%s was reset, but not claimed: another user claimed it meanwhile", t->name);
                return PCRESET1_ERROR_DEVICE_BUSY;
        }
        if (k >= 0 && q->handover && (k = handover_hold(q->handover, t->name, t->vendor_id, t->device_id, uid)) < 0)
                (void) claims_remove(claims, t->name);
        if (k < 0) {
                set_errorf(ret_message, 0, "%s was reset, but its claim cannot be recorded: %s", t->name,
                           strerror(-k));
                return SD_BUS_ERROR_FAILED;
        }
        audit_log(&(AuditRecord) { .event = AUDIT_CLAIMED, .caller = &r->caller, .device = t->name, .result = "ok",
                                   .detail = "after a reset" });
        return NULL;
}

/* Right before the worker: the same decision again, on the world as it is
 * now. A reset that would touch other devices, or a device that is no
 * longer the caller's or idle, does not run. */
static bool request_prepare(SchedJob *j) {
        Request *r = job_request(j);
        RequestQueue *q = r->queue;
        _cleanup_(decision_done) Decision d = {};
        _cleanup_free_ char *why = NULL;

        /* The loop cannot wait here, nor scan /proc (its cost is what
         * strangers hold): the last scan decides, and the executor checks
         * ownership on a fresh one right before the reset anyway. With no
         * scan at all (a device became stub-bound while the request
         * waited, and no scan ever succeeded) the request fails. */
        DecisionInput in = { .address = r->exec.target.name, .mask = r->mask, .uid = r->exec.uid,
                             .proven = r->exec.proven, .holders = scanner_last(q->scanner) };
        int k = decision_make(q->decide, &in, &d);
        ExecStatus status = EXEC_OK;
        if (k == -EAGAIN)
                status = EXEC_BUSY, why = strjoin_printf("%s changed while the request was queued and who holds it "
                                                         "open is not known yet; try again", r->exec.target.name);
        else if (k < 0)
                status = EXEC_FAILED, why = strjoin_printf("cannot decide about %s again before its reset: %s",
                                                           r->exec.target.name, strerror(-k));
        else if (d.error && streq(d.error, PCRESET1_ERROR_NO_SUCH_DEVICE))
                status = EXEC_GONE, why = strjoin_printf("%s was removed while the request was queued",
                                                          r->exec.target.name);
        else if (d.error)
                status = EXEC_FAILED, why = TAKE_PTR(d.message);
        else if (!decision_matches(&d, &r->exec, &why))
                status = strstr(strempty(why), " was removed ") ? EXEC_GONE : EXEC_BUSY;
        else if (d.busy)
                status = EXEC_BUSY, why = strjoin_printf("%s changed while the request was queued: %s",
                                                          r->exec.target.name, d.busy);
        if (status == EXEC_OK) {
                request_note_owned(r, &d);
                return true;
        }
        r->result = (ExecResult) { .status = status, .error = 0, .message = TAKE_PTR(why) };
        return false;
}

static void request_started(SchedJob *j) {
        Request *r = job_request(j);
        _cleanup_strv_free_ char **aff = request_affected(r);

        /* running: no longer waiting in the queue */
        r->wait_timer = sd_event_source_disable_unref(r->wait_timer);
        r->resetting = true;
        r->reset_next = r->queue->resetting;
        if (r->reset_next)
                r->reset_next->reset_prev = r;
        r->queue->resetting = r;
        if (r->queue->handover)
                r->handover_since = handover_mark(r->queue->handover);
        bus_emit_reset_signal(sd_bus_message_get_bus(r->call), "ResetStarted", r->exec.target.name, r->exec.scope, aff, "started");
}

static void request_run(SchedJob *j) {
        Request *r = job_request(j);
        r->ran = true;
        executor_run(r->queue->exec, &r->exec, &r->result);
}

static void request_done(SchedJob *j) {
        Request *r = job_request(j);
        _cleanup_strv_free_ char **aff = request_affected(r);
        const ExecResult *res = &r->result;
        const char *error = exec_status_error(res->status);
        _cleanup_free_ char *claim_message = NULL;
        const char *claim_error = NULL;

        /* the record and the signal first: whoever looks after the reply finds them */
        request_audit(r, error ? AUDIT_FAILED : AUDIT_COMPLETED, error ?: "ok", res->message);
        if (!error)
                request_handover(r);
        if (!error && r->claim)
                claim_error = request_claim(r, &claim_message);
        bus_emit_reset_signal(sd_bus_message_get_bus(r->call), "ResetCompleted", r->exec.target.name, r->exec.scope, aff, error ?: "ok");
        bus_emit_reset_completed_ex(sd_bus_message_get_bus(r->call), &r->exec, request_bridge(r), aff, error ?: "ok",
                                    res->usec, &res->health);
        int k = error ? sd_bus_reply_method_errorf(r->call, error, "%s", res->message ?: "reset failed")
                : claim_error ? sd_bus_reply_method_errorf(r->call, claim_error, "%s", claim_message ?: "not claimed")
                : bus_reply_reset(r->call, r->ex, &r->exec, request_bridge(r), aff, res->usec, &res->health);
        if (k < 0)
                log_debug_errno(k, "Cannot reply to %s (gone?): %m", r->sender);
        request_free(r);
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Request *r = userdata;
        RequestQueue *q = r->queue;
        unsigned sec = (unsigned) (limits_queue_wait_usec(q->limits) / USEC_PER_SEC);

        if (scheduler_cancel(q->scheduler, &r->job) < 0)
                return 0; /* started meanwhile */
        _cleanup_free_ char *msg = strjoin_printf("The reset of %s waited %u s in the queue of %s and was dropped "
                                                  "(MaxQueueWaitSec=%u): the resets before it take too long",
                                                  r->exec.target.name, sec,
                                                  r->exec.bridge.name[0] ? r->exec.bridge.name : r->exec.target.name,
                                                  sec);
        (void) sd_bus_reply_method_errorf(r->call, SD_BUS_ERROR_LIMITS_EXCEEDED, "%s", msg ?: "waited too long");
        request_audit(r, AUDIT_CANCELLED, SD_BUS_ERROR_LIMITS_EXCEEDED, msg);
        request_free(r);
        return 0;
}

int request_queue_new(sd_event *event, Scheduler *scheduler, Limits *limits, const DecisionContext *decide,
                      Scanner *scanner, const ExecContext *exec, RequestQueue **ret) {
        RequestQueue *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        *q = (RequestQueue) { .event = event, .scheduler = scheduler, .limits = limits, .decide = decide,
                              .scanner = scanner, .exec = exec };
        *ret = q;
        return 0;
}

RequestQueue *request_queue_free(RequestQueue *q) {
        if (!q)
                return NULL;
        /* nothing queued starts now, also what waited behind a job
         * cancelled here */
        scheduler_hold(q->scheduler);
        for (Request *r = q->requests, *next; r; r = next) {
                next = r->next;
                if (scheduler_cancel(q->scheduler, &r->job) >= 0) {
                        (void) sd_bus_reply_method_errorf(r->call, PCRESET1_ERROR_CANCELLED,
                                                          "pcresetd is stopping; %s was not reset",
                                                          r->exec.target.name);
                        request_audit(r, AUDIT_CANCELLED, PCRESET1_ERROR_CANCELLED, "pcresetd is stopping");
                        request_free(r);
                }
        }
        /* the running ones finish and are answered */
        scheduler_drain(q->scheduler);
        while (q->requests)
                request_free(q->requests);
        free(q);
        return NULL;
}

static unsigned requests_of_uid(const RequestQueue *q, uid_t uid) {
        unsigned n = 0;
        for (const Request *r = q->requests; r; r = r->next)
                n += r->caller.uid == uid;
        return n;
}

int request_queue_admit(RequestQueue *q, uid_t uid, char **ret_message) {
        uint64_t now = 0;
        (void) sd_event_now(q->event, CLOCK_MONOTONIC, &now);
        return limits_admit(q->limits, uid, requests_of_uid(q, uid), now, ret_message);
}

void request_queue_set_handover(RequestQueue *q, Handover *handover) {
        q->handover = handover;
}

static int submit(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask, bool ex, bool claim,
                  char *const *proven, const Decision *d);

int request_queue_submit(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask, bool ex,
                         char *const *proven, const Decision *d) {
        return submit(q, call, caller, mask, ex, false, proven, d);
}

int request_queue_submit_claim(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask,
                               const Decision *d) {
        return submit(q, call, caller, mask, true, true, NULL, d);
}

static int submit(RequestQueue *q, sd_bus_message *call, const Caller *caller, uint32_t mask, bool ex, bool claim,
                  char *const *proven, const Decision *d) {
        const ResetPlan *p = &d->plan;
        Request *r = calloc(1, sizeof *r);
        uint64_t now = 0;
        int k;

        if (!r)
                return -ENOMEM;
        r->queue = q;
        r->next = q->requests;
        if (q->requests)
                q->requests->prev = r;
        q->requests = r;
        q->n++;
        r->call = sd_bus_message_ref(call);
        r->sender = strdup(caller->sender);
        r->unit = caller->unit ? strdup(caller->unit) : NULL;
        r->caller = (AuditCaller) { .uid = caller->uid, .pid = caller->pid, .unit = r->unit,
                                    .sender = r->sender && r->sender[0] ? r->sender : NULL };
        r->mask = mask;
        r->ex = ex;
        r->claim = claim;
        r->domain = strdup(p->domain->relpath);
        r->job = (SchedJob) { .domain = r->domain, .link = p->link, .prepare = request_prepare,
                              .started = request_started, .run = request_run, .done = request_done };
        if (!r->sender || !r->domain || (caller->unit && !r->unit) ||
            exec_request_from_plan(p, caller->uid, proven, &r->exec) < 0) {
                request_free(r);
                return -ENOMEM;
        }

        k = sd_event_add_time_relative(q->event, &r->wait_timer, CLOCK_MONOTONIC, limits_queue_wait_usec(q->limits), 0,
                                       on_wait_timeout, r);
        if (k < 0)
                log_warning_errno(k, "Cannot bound the queue wait of a reset of %s: %m", p->target->name);
        (void) sd_event_now(q->event, CLOCK_MONOTONIC, &now);
        r->accepted_at = now;
        limits_note_accepted(q->limits, caller->uid, now);
        request_audit(r, AUDIT_ACCEPTED, "queued", NULL);
        k = scheduler_submit(q->scheduler, &r->job);
        if (k < 0) {
                /* the caller answers the call with the error */
                request_audit(r, AUDIT_CANCELLED, SD_BUS_ERROR_NO_MEMORY, "cannot queue the reset");
                request_free(r);
        }
        return k;
}

void request_queue_forget_sender(RequestQueue *q, const char *sender) {
        for (Request *r = q->requests, *next; r; r = next) {
                next = r->next;
                if (!streq(r->sender, sender) || scheduler_cancel(q->scheduler, &r->job) < 0)
                        continue;
                request_audit(r, AUDIT_CANCELLED, PCRESET1_ERROR_CANCELLED,
                              "the caller left the bus while the request was queued");
                request_free(r);
        }
}

/* O(running resets), whatever is queued: asked before polkit is. */
static bool resetting_except(const RequestQueue *q, const char *address, const Request *except) {
        for (const Request *r = q->resetting; r; r = r->reset_next)
                for (size_t i = 0; r != except && i < r->exec.n_affected; i++)
                        if (streq(r->exec.affected[i].name, address))
                                return true;
        return false;
}

bool request_queue_resetting(const RequestQueue *q, const char *address) {
        return resetting_except(q, address, NULL);
}

unsigned request_queue_count(const RequestQueue *q) {
        return q->n;
}
