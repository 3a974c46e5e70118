/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-device.h>

#include "audit.h"
#include "claims.h"
#include "config.h"
#include "executor.h"
#include "log.h"
#include "manager.h"
#include "ownership.h"
#include "pcreset1.h"
#include "planner.h"
#include "polkit.h"
#include "scheduler.h"
#include "topology.h"
#include "util.h"
#include "vfioproof.h"

typedef struct Request Request;
typedef struct KnownCaller KnownCaller;

/* Accepted resets of one uid in the last minute, oldest first. */
typedef struct RateWindow RateWindow;
struct RateWindow {
        uid_t uid;
        uint64_t *stamps;
        unsigned n;
        RateWindow *next;
};

struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_bus_slot *match_slot;
        sd_device_monitor *monitor;

        char *sysfs_root, *proc_root, *dev_root, *state_dir;
        Config config;
        Topology *topology;
        Claims *claims;
        Scheduler *scheduler;
        PolkitRegistry *polkit;
        ExecContext exec;

        Request *requests;      /* accepted, queued or running */
        KnownCaller *callers;   /* most recent first */
        unsigned n_callers;
        RateWindow *rates;      /* resets accepted per uid in the last minute */
        uint64_t exit_idle_usec;
        sd_event_source *idle_timer;
        uint64_t last_activity;
};

/* One accepted ResetDevice call, from acceptance to reply. */
struct Request {
        Manager *manager;
        sd_bus_message *call;
        char *sender;
        char *unit;
        AuditCaller caller;
        uint32_t mask;
        bool ex;                /* ResetDeviceEx: reply with details */
        char *domain;
        ExecRequest exec;
        ExecResult result;
        SchedJob job;
        sd_event_source *wait_timer;   /* MaxQueueWaitSec while queued */
        Request *prev, *next;
};

typedef struct Caller {
        uid_t uid;
        pid_t pid;
        char *unit;
} Caller;

/* Who a connection is, asked of the bus daemon once per connection: a
 * unique name is never reused and a connection's credentials never change,
 * so the answer holds until the name leaves the bus. */
struct KnownCaller {
        char *sender;
        Caller caller;
        KnownCaller *next;
};
#define MAX_KNOWN_CALLERS 1024

static void caller_done(Caller *c) {
        c->unit = mfree(c->unit);
}

static AuditCaller audit_caller(const Caller *c, sd_bus_message *call) {
        return (AuditCaller) { .uid = c->uid, .pid = c->pid, .unit = c->unit,
                               .sender = sd_bus_message_get_sender(call) };
}

/* uid and pid come from the bus daemon (trusted); the unit is looked up from
 * the pid and only ever used for the audit trail. */
static int query_caller(sd_bus_message *call, Caller *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL, *pcreds = NULL;
        const char *unit = NULL;
        uid_t uid;
        pid_t pid = 0;
        int r;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify the caller: %s",
                                         strerror(-r));
        (void) sd_bus_creds_get_pid(creds, &pid);
        if (pid > 0 && sd_bus_creds_new_from_pid(&pcreds, pid, SD_BUS_CREDS_UNIT) >= 0)
                (void) sd_bus_creds_get_unit(pcreds, &unit);
        *ret = (Caller) { .uid = uid, .pid = pid, .unit = unit ? strdup(unit) : NULL };
        return 0;
}

static void known_caller_free(KnownCaller *k) {
        free(k->sender);
        caller_done(&k->caller);
        free(k);
}

static void forget_caller(Manager *m, const char *sender) {
        for (KnownCaller **k = &m->callers; *k; k = &(*k)->next)
                if (streq((*k)->sender, sender)) {
                        KnownCaller *dead = *k;
                        *k = dead->next;
                        known_caller_free(dead);
                        m->n_callers--;
                        return;
                }
}

static KnownCaller *find_caller(Manager *m, const char *sender) {
        for (KnownCaller *k = m->callers; sender && k; k = k->next)
                if (streq(k->sender, sender))
                        return k;
        return NULL;
}

static void remember_caller(Manager *m, const char *sender, const Caller *c) {
        KnownCaller *k = calloc(1, sizeof *k);
        if (!k || !(k->sender = strdup(sender))) {
                free(k);
                return; /* asked again next time */
        }
        k->caller = (Caller) { .uid = c->uid, .pid = c->pid, .unit = c->unit ? strdup(c->unit) : NULL };
        k->next = m->callers;
        m->callers = k;
        if (++m->n_callers > MAX_KNOWN_CALLERS) {
                /* the oldest goes; it is asked again if it calls */
                KnownCaller **last = &m->callers;
                while ((*last)->next)
                        last = &(*last)->next;
                known_caller_free(*last);
                *last = NULL;
                m->n_callers--;
        }
}

static int get_caller(Manager *m, sd_bus_message *call, Caller *ret, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(call);
        KnownCaller *k = find_caller(m, sender);

        if (k) {
                *ret = (Caller) { .uid = k->caller.uid, .pid = k->caller.pid,
                                  .unit = k->caller.unit ? strdup(k->caller.unit) : NULL };
                return 0;
        }
        int r = query_caller(call, ret, error);
        if (r < 0)
                return r;
        if (sender)
                remember_caller(m, sender, ret);
        return 0;
}

static int lookup_device(Manager *m, const char *address, PciDevice **ret, sd_bus_error *error) {
        PciAddress a;
        char buf[PCI_ADDRESS_MAX];

        if (pci_address_parse(address, &a) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid PCI address '%.64s': expected DDDD:BB:DD.F or BB:DD.F in hex, "
                                         "e.g. 0000:01:00.0", address);
        /* without uevents (a test tree, an unusual host) look again now */
        if (!m->monitor) {
                int r = topology_refresh(m->topology, NULL);
                if (r < 0)
                        log_warning("Rescanning PCI devices failed: %s", strerror(-r));
        }
        PciDevice *d = topology_find(m->topology, &a);
        if (!d)
                return sd_bus_error_setf(error, PCRESET1_ERROR_NO_SUCH_DEVICE, "No PCI device %s on this host",
                                         pci_address_format(&a, buf));
        *ret = d;
        return 0;
}

static int check_mask(uint32_t mask, sd_bus_error *error) {
        if (pcreset_scope_mask_valid(mask))
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Invalid scope mask 0x%08x: use a non-zero combination of DEV_SPECIFIC 0x01, "
                                 "FLR 0x02, PM 0x04, SLOT 0x08, BUS 0x10, ACPI 0x20, CXL_BUS 0x40, or ANY 0xffffffff",
                                 mask);
}

/* One /proc scan per request: the planner's quiet checks and the ownership
 * verdicts share it. */
typedef struct QuietCtx {
        Manager *manager;
        OpenHandles **handles;
} QuietCtx;

static bool device_quiet(void *userdata, const PciDevice *d, char **why) {
        QuietCtx *q = userdata;
        bool quiet = false;
        if (ownership_device_quiet(&q->manager->exec.ownership, d->syspath, q->handles, &quiet, why) < 0)
                return false;
        return quiet;
}

static PlannerEnv planner_env(Manager *m, QuietCtx *q, OpenHandles **handles) {
        *q = (QuietCtx) { .manager = m, .handles = handles };
        return (PlannerEnv) {
                .use_reset_subordinate = m->config.use_reset_subordinate,
                .allow_userspace_sbr = m->config.userspace_bus_reset,
                .quiet = device_quiet,
                .userdata = q,
        };
}

static int plan_reset(Manager *m, PciDevice *dev, uint32_t mask, OpenHandles **handles, ResetPlan *ret,
                      sd_bus_error *error) {
        _cleanup_strv_free_ char **methods = NULL;
        _cleanup_free_ char *reason = NULL;
        QuietCtx q;
        PlannerEnv env = planner_env(m, &q, handles);

        assert(dev);
        int r = executor_read_methods(&m->exec, dev->name, dev->syspath, &methods);
        if (r < 0)
                return sd_bus_error_setf(error, PCRESET1_ERROR_RESET_FAILED, "Cannot read the reset_method of %s: %s",
                                         dev->name, strerror(-r));
        r = planner_plan(m->topology, dev, mask, methods, &env, ret, &reason);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, PCRESET1_ERROR_NOT_SUPPORTED, "%s", reason ?: "not supported");
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        return 0;
}

/* Evaluates every affected device; verdicts[] must hold n_affected. */
static int evaluate_plan(Manager *m, const ResetPlan *p, uid_t uid, char *const *proven, OpenHandles **handles,
                         DeviceVerdict *verdicts, sd_bus_error *error) {
        int r = 0;

        for (size_t i = 0; i < p->n_affected; i++) {
                r = ownership_evaluate(&m->exec.ownership, p->affected[i]->name, p->affected[i]->syspath, uid,
                                       proven, handles, &verdicts[i]);
                if (r < 0) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot decide whether %s is in use: %s",
                                          p->affected[i]->name, strerror(-r));
                        break;
                }
        }
        return r;
}

static void open_handles_freep(OpenHandles **h) {
        open_handles_free(*h);
}

static void verdicts_done(DeviceVerdict *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                device_verdict_done(&v[i]);
}

static char **plan_affected_names(const ResetPlan *p) {
        char **l = calloc(p->n_affected + 1, sizeof(char *));
        for (size_t i = 0; l && i < p->n_affected; i++)
                if (!(l[i] = strdup(p->affected[i]->name)))
                        return strv_free(l);
        return l;
}

/* "0000:01:00.1 (snd_hda_intel) is in use by the host and not owned by you" */
static char *busy_message(const ResetPlan *p, const DeviceVerdict *v) {
        char *msg = NULL;
        size_t n_busy = 0;

        for (size_t i = 0; i < p->n_affected; i++) {
                if (v[i].state != DEVICE_BUSY)
                        continue;
                char *part = strjoin_printf("%s%s%s%s: %s", p->affected[i]->name, v[i].driver ? " (" : "",
                                            strempty(v[i].driver), v[i].driver ? ")" : "", v[i].reason);
                char *j = part ? strjoin_printf("%s%s%s", strempty(msg), msg ? "; " : "", part) : NULL;
                free(part);
                free(msg);
                msg = j;
                n_busy++;
        }
        if (!n_busy)
                return NULL;
        char *full = strjoin_printf("Refusing to reset %s with %s: %s. Claim %s (ClaimDevice), bind %s to "
                                    "vfio-pci, or stop what uses %s.", p->target->name,
                                    pcreset_scope_bit_name(p->scope), strempty(msg),
                                    n_busy > 1 ? "the devices" : "the device", n_busy > 1 ? "them" : "it",
                                    n_busy > 1 ? "them" : "it");
        free(msg);
        return full;
}

static void audit_refusal(sd_bus_message *call, const Caller *c, const char *device, uint32_t mask,
                          const ResetPlan *p, const sd_bus_error *e) {
        AuditCaller ac = audit_caller(c, call);
        _cleanup_strv_free_ char **aff = p ? plan_affected_names(p) : NULL;
        audit_log(&(AuditRecord) {
                .event = AUDIT_REFUSED, .caller = &ac, .device = device, .mask = mask,
                .scope = p ? p->scope : 0, .method = p ? p->kernel_method : NULL,
                .mechanism = p ? reset_mechanism_to_string(p->mechanism) : NULL,
                .bridge = p && p->bridge ? p->bridge->name : NULL, .affected = aff,
                .result = e->name, .detail = e->message,
        });
}

/* ---- requests ---------------------------------------------------------- */

static Request *request_free(Request *q) {
        if (!q)
                return NULL;
        Manager *m = q->manager;
        if (q->prev)
                q->prev->next = q->next;
        else if (m->requests == q)
                m->requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        sd_event_source_disable_unref(q->wait_timer);
        sd_bus_message_unref(q->call);
        free(q->sender);
        free(q->unit);
        free(q->domain);
        exec_request_done(&q->exec);
        exec_result_done(&q->result);
        free(q);
        return NULL;
}

static void emit_reset_signal(Request *q, const char *member, char **affected, const char *result) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
        int r = sd_bus_message_new_signal(q->manager->bus, &sig, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                          member);
        if (r >= 0)
                r = sd_bus_message_append(sig, "su", q->exec.target.name, q->exec.scope);
        if (r >= 0)
                r = sd_bus_message_append_strv(sig, affected);
        if (r >= 0)
                r = sd_bus_message_append(sig, "s", result);
        if (r >= 0)
                r = sd_bus_send(q->manager->bus, sig, NULL);
        if (r < 0)
                log_warning("Cannot emit %s for %s: %s", member, q->exec.target.name, strerror(-r));
}

static char **request_affected(const Request *q) {
        char **l = calloc(q->exec.n_affected + 1, sizeof(char *));
        for (size_t i = 0; l && i < q->exec.n_affected; i++)
                if (!(l[i] = strdup(q->exec.affected[i].name)))
                        return strv_free(l);
        return l;
}

static void request_started(SchedJob *j) {
        Request *q = (Request *) ((char *) j - offsetof(Request, job));
        q->wait_timer = sd_event_source_disable_unref(q->wait_timer);
        _cleanup_strv_free_ char **aff = request_affected(q);
        emit_reset_signal(q, "ResetStarted", aff, "started");
}

static void request_run(SchedJob *j) {
        Request *q = (Request *) ((char *) j - offsetof(Request, job));
        executor_run(&q->manager->exec, &q->exec, &q->result);
}

static const char *exec_status_error(ExecStatus s) {
        switch (s) {
        case EXEC_BUSY: return PCRESET1_ERROR_DEVICE_BUSY;
        case EXEC_GONE: return PCRESET1_ERROR_NO_SUCH_DEVICE;
        default:        return PCRESET1_ERROR_RESET_FAILED;
        }
}

static void request_done(SchedJob *j) {
        Request *q = (Request *) ((char *) j - offsetof(Request, job));
        _cleanup_strv_free_ char **aff = request_affected(q);
        ExecResult *res = &q->result;
        int r;

        const char *bridge = q->exec.mechanism != MECHANISM_KERNEL_METHOD || (q->exec.scope & PCRESET_SCOPE_LINK)
                ? q->exec.bridge.name : NULL;
        /* the record and the signal first: whoever looks after the reply finds them */
        audit_log(&(AuditRecord) {
                .event = res->status == EXEC_OK ? AUDIT_COMPLETED : AUDIT_FAILED,
                .caller = &q->caller, .device = q->exec.target.name, .mask = q->mask, .scope = q->exec.scope,
                .method = q->exec.kernel_method, .mechanism = reset_mechanism_to_string(q->exec.mechanism),
                .bridge = bridge, .affected = aff,
                .result = res->status == EXEC_OK ? "ok" : exec_status_error(res->status),
                .detail = res->message, .usec = res->usec,
        });
        emit_reset_signal(q, "ResetCompleted", aff, res->status == EXEC_OK ? "ok" : exec_status_error(res->status));
        if (res->status == EXEC_OK) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                r = sd_bus_message_new_method_return(q->call, &reply);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "u", q->exec.scope);
                if (r >= 0)
                        r = sd_bus_message_append_strv(reply, aff);
                if (r >= 0 && q->ex)
                        r = sd_bus_message_append(reply, "a{sv}", 4,
                                                  "mechanism", "s", reset_mechanism_to_string(q->exec.mechanism),
                                                  "method", "s", strempty(q->exec.kernel_method),
                                                  "bridge", "s", strempty(bridge),
                                                  "duration_usec", "t", res->usec);
                if (r >= 0)
                        r = sd_bus_send(NULL, reply, NULL);
        } else
                r = sd_bus_reply_method_errorf(q->call, exec_status_error(res->status), "%s",
                                               res->message ?: "reset failed");
        if (r < 0)
                log_debug("Cannot reply to %s (gone?): %s", q->sender, strerror(-r));

        request_free(q);
}

static uint64_t loop_now(Manager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static RateWindow *rate_window(Manager *m, uid_t uid, bool create) {
        for (RateWindow *w = m->rates; w; w = w->next)
                if (w->uid == uid)
                        return w;
        if (!create)
                return NULL;
        RateWindow *w = calloc(1, sizeof *w);
        if (!w)
                return NULL;
        w->uid = uid;
        w->stamps = calloc(m->config.max_per_minute, sizeof(uint64_t));
        if (!w->stamps) {
                free(w);
                return NULL;
        }
        w->next = m->rates;
        m->rates = w;
        return w;
}

/* Resets of uid still inside the last minute (drops older ones). */
static unsigned rate_count(Manager *m, uid_t uid) {
        RateWindow *w = rate_window(m, uid, false);
        uint64_t cutoff = loop_now(m), minute = 60ULL * 1000000ULL;
        if (!w)
                return 0;
        cutoff = cutoff > minute ? cutoff - minute : 0;
        unsigned k = 0;
        while (k < w->n && w->stamps[k] <= cutoff)
                k++;
        memmove(w->stamps, w->stamps + k, (w->n - k) * sizeof(uint64_t));
        w->n -= k;
        return w->n;
}

static void rate_note(Manager *m, uid_t uid) {
        RateWindow *w = rate_window(m, uid, true);
        if (w && w->n < m->config.max_per_minute)
                w->stamps[w->n++] = loop_now(m);
}

static void rates_free(Manager *m) {
        while (m->rates) {
                RateWindow *w = m->rates;
                m->rates = w->next;
                free(w->stamps);
                free(w);
        }
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Request *q = userdata;
        Manager *m = q->manager;

        if (scheduler_cancel(m->scheduler, &q->job) < 0)
                return 0; /* started meanwhile */
        _cleanup_strv_free_ char **aff = request_affected(q);
        _cleanup_free_ char *msg = strjoin_printf("The reset of %s waited %u s in the queue of %s and was dropped "
                                                  "(MaxQueueWaitSec=%u): the resets before it take too long",
                                                  q->exec.target.name, m->config.max_wait_sec,
                                                  q->exec.bridge.name[0] ? q->exec.bridge.name : q->exec.target.name,
                                                  m->config.max_wait_sec);
        (void) sd_bus_reply_method_errorf(q->call, SD_BUS_ERROR_LIMITS_EXCEEDED, "%s", msg ?: "waited too long");
        audit_log(&(AuditRecord) {
                .event = AUDIT_CANCELLED, .caller = &q->caller, .device = q->exec.target.name, .mask = q->mask,
                .scope = q->exec.scope, .method = q->exec.kernel_method, .affected = aff,
                .result = SD_BUS_ERROR_LIMITS_EXCEEDED, .detail = msg,
        });
        request_free(q);
        return 0;
}

static unsigned requests_of_uid(Manager *m, uid_t uid) {
        unsigned n = 0;
        for (Request *q = m->requests; q; q = q->next)
                n += q->caller.uid == uid;
        return n;
}

static int submit_request(Manager *m, sd_bus_message *call, const Caller *c, uint32_t mask, bool ex,
                          char *const *proven, const ResetPlan *p, sd_bus_error *error) {
        Request *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->manager = m;
        q->call = sd_bus_message_ref(call);
        q->sender = strdup(strempty(sd_bus_message_get_sender(call)));
        q->unit = c->unit ? strdup(c->unit) : NULL;
        q->caller = (AuditCaller) { .uid = c->uid, .pid = c->pid, .unit = q->unit, .sender = q->sender };
        q->mask = mask;
        q->ex = ex;
        assert(p->domain); /* the planner always sets it */
        q->domain = strdup(p->domain->relpath);
        q->job = (SchedJob) { .domain = q->domain, .link = p->link, .started = request_started, .run = request_run,
                              .done = request_done };
        q->next = m->requests;
        if (m->requests)
                m->requests->prev = q;
        m->requests = q;
        if (!q->sender || !q->domain || exec_request_from_plan(p, c->uid, proven, &q->exec) < 0) {
                request_free(q);
                return -ENOMEM;
        }

        if (sd_event_add_time_relative(m->event, &q->wait_timer, CLOCK_MONOTONIC,
                                       (uint64_t) m->config.max_wait_sec * 1000000ULL, 0, on_wait_timeout, q) < 0)
                log_warning("Cannot bound the queue wait of a reset of %s", p->target->name);
        if (c->uid != 0)
                rate_note(m, c->uid);

        _cleanup_strv_free_ char **aff = plan_affected_names(p);
        audit_log(&(AuditRecord) {
                .event = AUDIT_ACCEPTED, .caller = &q->caller, .device = p->target->name, .mask = mask,
                .scope = p->scope, .method = p->kernel_method, .mechanism = reset_mechanism_to_string(p->mechanism),
                .bridge = p->bridge ? p->bridge->name : NULL, .affected = aff, .result = "queued",
        });
        return scheduler_submit(m->scheduler, &q->job);
}

/* ---- methods ----------------------------------------------------------- */

/* Reads the 'ah' of ResetDeviceWithFds into the devices they prove. */
static int read_proofs(Manager *m, sd_bus_message *call, char ***proven, sd_bus_error *error) {
        int r = sd_bus_message_enter_container(call, 'a', "h");
        if (r < 0)
                return r;
        for (unsigned i = 0;; i++) {
                int fd;
                _cleanup_free_ char *why = NULL;
                r = sd_bus_message_read(call, "h", &fd);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = vfio_fd_devices(m->sysfs_root, m->proc_root, fd, proven, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "fd #%u refused: %s", i,
                                                 why ?: strerror(-r));
        }
        return sd_bus_message_exit_container(call);
}

static int reset_device(sd_bus_message *call, Manager *m, bool ex, bool fds, sd_bus_error *error) {
        _cleanup_(polkit_answer_done) PolkitAnswer answer = {};
        _cleanup_(caller_done) Caller caller = {};
        _cleanup_strv_free_ char **proven = NULL;
        _cleanup_(open_handles_freep) OpenHandles *handles = NULL;
        const char *address = NULL;
        uint32_t mask = 0;
        PciDevice *dev = NULL;
        ResetPlan plan = {};
        int r;

        /* first: an authorization answer for this very message may be waiting */
        polkit_take(m->polkit, call, &answer);

        r = sd_bus_message_read(call, "su", &address, &mask);
        if (r < 0)
                return r;
        if (fds) {
                r = read_proofs(m, call, &proven, error);
                if (r < 0)
                        return r;
        }
        r = get_caller(m, call, &caller, error);
        if (r < 0)
                return r;
        r = check_mask(mask, error);
        if (r >= 0)
                r = lookup_device(m, address, &dev, error);
        if (r >= 0)
                r = plan_reset(m, dev, mask, &handles, &plan, error);
        if (r < 0) {
                audit_refusal(call, &caller, address, mask ?: PCRESET_SCOPE_ANY, NULL, error);
                return r;
        }
        assert(dev);

        DeviceVerdict verdicts[PLAN_MAX_AFFECTED] = {};
        r = evaluate_plan(m, &plan, caller.uid, proven, &handles, verdicts, error);
        _cleanup_free_ char *busy = r >= 0 ? busy_message(&plan, verdicts) : NULL;
        verdicts_done(verdicts, plan.n_affected);
        if (r >= 0 && busy)
                r = sd_bus_error_set(error, PCRESET1_ERROR_DEVICE_BUSY, busy);
        if (r >= 0 && requests_of_uid(m, caller.uid) >= m->config.max_queued_per_user)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                      "uid %u already has %u resets queued (MaxQueuedPerUser=%u); wait for them",
                                      (unsigned) caller.uid, m->config.max_queued_per_user,
                                      m->config.max_queued_per_user);
        /* root is the admin: not rate limited */
        if (r >= 0 && caller.uid != 0 && rate_count(m, caller.uid) >= m->config.max_per_minute)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                      "uid %u made %u resets in the last minute (MaxResetsPerMinute=%u); try again later",
                                      (unsigned) caller.uid, m->config.max_per_minute, m->config.max_per_minute);
        if (r < 0) {
                audit_refusal(call, &caller, dev->name, mask, &plan, error);
                return r;
        }

        char vendor[8], product[8], maskstr[16];
        snprintf(vendor, sizeof vendor, "%04x", dev->vendor_id);
        snprintf(product, sizeof product, "%04x", dev->device_id);
        snprintf(maskstr, sizeof maskstr, "0x%08x", mask);
        _cleanup_strv_free_ char **aff = plan_affected_names(&plan);
        _cleanup_free_ char *affected = aff ? strv_join(aff, ",") : NULL;
        _cleanup_free_ char *what = strjoin_printf("reset %s", dev->name);
        if (!affected || !what)
                return -ENOMEM;
        char *details[] = {
                (char *) "device", dev->name,
                (char *) "vendor", vendor,
                (char *) "product", product,
                (char *) "scope", (char *) pcreset_scope_bit_name(plan.scope),
                (char *) "mask", maskstr,
                (char *) "affected", affected,
                NULL,
        };
        r = polkit_check(m->polkit, call, caller.uid, PCRESET1_ACTION_RESET, details, what, &answer, error);
        if (r == 0)
                return 1; /* asked polkit; we run again with its answer */
        if (r < 0) {
                audit_refusal(call, &caller, dev->name, mask, &plan, error);
                return r;
        }

        r = submit_request(m, call, &caller, mask, ex, proven, &plan, error);
        if (r < 0)
                return r;
        return 1; /* replied to when the reset is done */
}

static int method_reset_device(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return reset_device(call, userdata, false, false, error);
}

static int method_reset_device_ex(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return reset_device(call, userdata, true, false, error);
}

static int method_reset_device_with_fds(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return reset_device(call, userdata, true, true, error);
}

static int get_reset_info(sd_bus_message *call, Manager *m, bool ex, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller caller = {};
        _cleanup_(open_handles_freep) OpenHandles *handles = NULL;
        const char *address = NULL;
        uint32_t mask = 0;
        PciDevice *dev = NULL;
        ResetPlan plan = {};
        int r;

        r = sd_bus_message_read(call, "su", &address, &mask);
        if (r < 0)
                return r;
        r = check_mask(mask, error);
        if (r < 0)
                return r;
        r = get_caller(m, call, &caller, error);
        if (r < 0)
                return r;
        r = lookup_device(m, address, &dev, error);
        if (r < 0)
                return r;
        r = plan_reset(m, dev, mask, &handles, &plan, error);
        if (r < 0)
                return r;

        DeviceVerdict verdicts[PLAN_MAX_AFFECTED] = {};
        r = evaluate_plan(m, &plan, caller.uid, NULL, &handles, verdicts, error);
        if (r >= 0)
                r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "u", plan.scope);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < plan.n_affected; i++)
                r = sd_bus_message_append(reply, "(sss)", plan.affected[i]->name,
                                          device_state_to_string(verdicts[i].state), verdicts[i].reason);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && ex)
                r = sd_bus_message_append(reply, "a{sv}", 4,
                                          "mechanism", "s", reset_mechanism_to_string(plan.mechanism),
                                          "method", "s", strempty(plan.kernel_method),
                                          "bridge", "s", plan.bridge ? plan.bridge->name : "",
                                          "domain", "s", plan.domain->name);
        verdicts_done(verdicts, plan.n_affected);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_reset_info(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return get_reset_info(call, userdata, false, error);
}

static int method_get_reset_info_ex(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return get_reset_info(call, userdata, true, error);
}

static int method_claim_device(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(polkit_answer_done) PolkitAnswer answer = {};
        _cleanup_(caller_done) Caller caller = {};
        Manager *m = userdata;
        const char *address = NULL;
        PciDevice *dev = NULL;
        uid_t holder = 0;
        int r;

        polkit_take(m->polkit, call, &answer);

        r = sd_bus_message_read(call, "s", &address);
        if (r < 0)
                return r;
        r = get_caller(m, call, &caller, error);
        if (r < 0)
                return r;
        r = lookup_device(m, address, &dev, error);
        if (r < 0)
                return r;
        assert(dev);
        if (claims_get(m->claims, dev->name, &holder) >= 0) {
                if (holder == caller.uid)
                        return sd_bus_reply_method_return(call, NULL);
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                         "%s is already claimed by uid %u; it must release it first", dev->name,
                                         (unsigned) holder);
        }

        char vendor[8], product[8];
        snprintf(vendor, sizeof vendor, "%04x", dev->vendor_id);
        snprintf(product, sizeof product, "%04x", dev->device_id);
        _cleanup_free_ char *what = strjoin_printf("claim %s", dev->name);
        if (!what)
                return -ENOMEM;
        char *details[] = { (char *) "device", dev->name, (char *) "vendor", vendor, (char *) "product", product, NULL };
        r = polkit_check(m->polkit, call, caller.uid, PCRESET1_ACTION_CLAIM, details, what, &answer, error);
        if (r <= 0)
                return r == 0 ? 1 : r;

        r = claims_add(m->claims, dev->name, caller.uid, dev->vendor_id, dev->device_id, &holder);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY, "%s is already claimed by uid %u",
                                         dev->name, (unsigned) holder);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot record the claim of %s: %s", dev->name,
                                         strerror(-r));
        AuditCaller ac = audit_caller(&caller, call);
        audit_log(&(AuditRecord) { .event = AUDIT_CLAIMED, .caller = &ac, .device = dev->name, .result = "ok" });
        return sd_bus_reply_method_return(call, NULL);
}

static int method_release_device(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller caller = {};
        Manager *m = userdata;
        const char *address = NULL;
        char name[PCI_ADDRESS_MAX];
        PciAddress a;
        uid_t holder = 0;
        int r;

        r = sd_bus_message_read(call, "s", &address);
        if (r < 0)
                return r;
        if (pci_address_parse(address, &a) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid PCI address '%.64s': expected DDDD:BB:DD.F or BB:DD.F in hex",
                                         address);
        pci_address_format(&a, name);
        r = get_caller(m, call, &caller, error);
        if (r < 0)
                return r;
        /* a claim outlives its device; releasing it must work either way */
        if (claims_get(m->claims, name, &holder) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s is not claimed", name);
        if (holder != caller.uid && caller.uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is claimed by uid %u: only that user or root can release it", name,
                                         (unsigned) holder);
        r = claims_remove(m->claims, name);
        if (r < 0 && r != -ENOENT)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot release %s: %s", name, strerror(-r));
        AuditCaller ac = audit_caller(&caller, call);
        audit_log(&(AuditRecord) { .event = AUDIT_RELEASED, .caller = &ac, .device = name, .result = "ok" });
        return sd_bus_reply_method_return(call, NULL);
}

static int method_list_devices(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller caller = {};
        Manager *m = userdata;
        OpenHandles *handles = NULL;
        int r;

        r = get_caller(m, call, &caller, error);
        if (r < 0)
                return r;
        if (!m->monitor)
                (void) topology_refresh(m->topology, NULL);

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssqqsssssuas)");
        for (size_t i = 0; r >= 0 && i < topology_count(m->topology); i++) {
                PciDevice *d = topology_get(m->topology, i);
                _cleanup_strv_free_ char **methods = NULL;
                DeviceVerdict v = {};

                r = ownership_evaluate(&m->exec.ownership, d->name, d->syspath, caller.uid, NULL, &handles, &v);
                if (r < 0)
                        break;
                if (executor_read_methods(&m->exec, d->name, d->syspath, &methods) < 0)
                        methods = NULL;
                QuietCtx q;
                PlannerEnv env = planner_env(m, &q, &handles);
                uint32_t scopes = planner_available_scopes(m->topology, d, methods, &env);
                r = sd_bus_message_open_container(reply, 'r', "ssqqsssssuas");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ssqqsssssu", d->name, d->parent ? d->parent->name : "",
                                                  d->vendor_id, d->device_id, strempty(d->label), strempty(v.driver),
                                                  device_state_to_string(v.state), v.reason,
                                                  planner_domain_of(d)->name, scopes);
                if (r >= 0)
                        r = sd_bus_message_append_strv(reply, methods);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                device_verdict_done(&v);
        }
        open_handles_free(handles);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PCRESETD_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("ResetDevice",
                                SD_BUS_ARGS("s", address, "u", scope),
                                SD_BUS_RESULT("u", performed, "as", affected),
                                method_reset_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetResetInfo",
                                SD_BUS_ARGS("s", address, "u", scope),
                                SD_BUS_RESULT("u", planned, "a(sss)", affected),
                                method_get_reset_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetDeviceEx",
                                SD_BUS_ARGS("s", address, "u", scope),
                                SD_BUS_RESULT("u", performed, "as", affected, "a{sv}", details),
                                method_reset_device_ex, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetDeviceWithFds",
                                SD_BUS_ARGS("s", address, "u", scope, "ah", fds),
                                SD_BUS_RESULT("u", performed, "as", affected, "a{sv}", details),
                                method_reset_device_with_fds, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetResetInfoEx",
                                SD_BUS_ARGS("s", address, "u", scope),
                                SD_BUS_RESULT("u", planned, "a(sss)", affected, "a{sv}", details),
                                method_get_reset_info_ex, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClaimDevice",
                                SD_BUS_ARGS("s", address),
                                SD_BUS_NO_RESULT,
                                method_claim_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseDevice",
                                SD_BUS_ARGS("s", address),
                                SD_BUS_NO_RESULT,
                                method_release_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssqqsssssuas)", devices),
                                method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ResetStarted",
                                SD_BUS_ARGS("s", address, "u", performed, "as", affected, "s", result), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ResetCompleted",
                                SD_BUS_ARGS("s", address, "u", performed, "as", affected, "s", result), 0),
        SD_BUS_VTABLE_END
};

/* ---- bus and device events --------------------------------------------- */

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] != ':' || new_owner[0] != '\0')
                return 0;

        /* the caller is gone: nothing it asked for may still happen */
        polkit_forget_sender(m->polkit, name);
        forget_caller(m, name);
        for (Request *q = m->requests, *next; q; q = next) {
                next = q->next;
                if (!streq(q->sender, name) || scheduler_cancel(m->scheduler, &q->job) < 0)
                        continue;
                _cleanup_strv_free_ char **aff = request_affected(q);
                audit_log(&(AuditRecord) {
                        .event = AUDIT_CANCELLED, .caller = &q->caller, .device = q->exec.target.name,
                        .mask = q->mask, .scope = q->exec.scope, .method = q->exec.kernel_method, .affected = aff,
                        .result = PCRESET1_ERROR_CANCELLED, .detail = "the caller left the bus while the request was queued",
                });
                request_free(q);
        }
        return 0;
}

static int on_uevent(sd_device_monitor *mon, sd_device *device, void *userdata) {
        Manager *m = userdata;

        topology_invalidate(m->topology);
        int r = topology_refresh(m->topology, NULL);
        if (r < 0)
                log_warning("Rescanning PCI devices after a uevent failed: %s", strerror(-r));
        return 0;
}

static int setup_monitor(Manager *m) {
        int r;

        /* uevents describe the real /sys only */
        if (!streq(m->sysfs_root, "/sys"))
                return 0;
        r = sd_device_monitor_new(&m->monitor);
        if (r >= 0)
                r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r >= 0)
                r = sd_device_monitor_attach_event(m->monitor, m->event);
        if (r >= 0)
                r = sd_device_monitor_start(m->monitor, on_uevent, m);
        if (r < 0) {
                log_warning("No uevent monitor (%s): rescanning on each request instead", strerror(-r));
                m->monitor = sd_device_monitor_unref(m->monitor);
        }
        return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static bool claim_lookup(void *userdata, const char *address, uint16_t *vendor, uint16_t *device) {
        Manager *m = userdata;
        PciAddress a;
        if (pci_address_parse(address, &a) < 0)
                return false;
        PciDevice *d = topology_find(m->topology, &a);
        if (!d)
                return false;
        *vendor = d->vendor_id;
        *device = d->device_id;
        return true;
}

static int check_dir(const char *what, const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return log_error_errno(-errno, "%s %s: %s", what, path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(-ENOTDIR, "%s %s is not a directory", what, path);
        return 0;
}

int manager_new(sd_event *e, const ManagerOptions *o, Manager **ret) {
        Manager *m = calloc(1, sizeof *m);
        int r, line;
        _cleanup_free_ char *message = NULL;

        if (!m)
                return -ENOMEM;
        *ret = m;
        m->event = sd_event_ref(e);
        m->exit_idle_usec = o->exit_idle_usec;
        config_init(&m->config);
        m->sysfs_root = strdup(o->sysfs_root);
        m->proc_root = strdup(o->proc_root);
        m->dev_root = strdup(o->dev_root);
        m->state_dir = strdup(o->state_dir);
        if (!m->sysfs_root || !m->proc_root || !m->dev_root || !m->state_dir || !m->config.stub_drivers)
                return -ENOMEM;

        r = config_load(&m->config, o->config_file, o->config_must_exist, &line, &message);
        if (r == -EINVAL)
                return log_error_errno(r, "%s:%d: %s", o->config_file, line, message);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %s", o->config_file, strerror(-r));

        if ((r = check_dir("--sysfs-root", m->sysfs_root)) < 0 || (r = check_dir("--proc-root", m->proc_root)) < 0 ||
            (r = check_dir("--dev-root", m->dev_root)) < 0)
                return r;
        r = mkdir_p(m->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s: %s", m->state_dir, strerror(-r));

        r = claims_new(m->state_dir, &m->claims);
        if (r < 0)
                return log_error_errno(r, "Cannot load claims from %s: %s", m->state_dir, strerror(-r));
        m->exec = (ExecContext) {
                .sysfs_root = m->sysfs_root,
                .state_dir = m->state_dir,
                .ready_timeout_usec = (uint64_t) m->config.ready_timeout_sec * 1000000u,
                .ownership = { .dev_root = m->dev_root, .proc_root = m->proc_root, .config = &m->config,
                               .claims = m->claims },
        };

        /* before anything can ask for a reset: undo what a crash left */
        r = executor_repair(&m->exec);
        if (r < 0)
                return log_error_errno(r, "Cannot repair interrupted resets in %s: %s", m->state_dir, strerror(-r));
        if (r > 0)
                audit_log(&(AuditRecord) { .event = AUDIT_REPAIRED, .device = "reset_method", .result = "ok",
                                           .detail = "restored after an interrupted reset" });

        r = topology_new(m->sysfs_root, &m->topology);
        if (r < 0)
                return log_error_errno(r, "Cannot enumerate PCI devices under %s: %s", m->sysfs_root, strerror(-r));
        claims_prune(m->claims, claim_lookup, m);

        r = scheduler_new(e, m->config.max_parallel, &m->scheduler);
        if (r < 0)
                return r;
        r = polkit_registry_new((uint64_t) m->config.polkit_timeout_sec * 1000000ULL, &m->polkit);
        if (r < 0)
                return r;
        log_info("Found %zu PCI functions under %s", topology_count(m->topology), m->sysfs_root);
        return 0;
}

int manager_serve(Manager *m, sd_bus *bus) {
        int r;

        m->bus = sd_bus_ref(bus);
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* stopping answers every caller first (manager_free): the bus must
         * outlive the loop */
        (void) sd_bus_set_close_on_exit(m->bus, false);
        r = sd_bus_add_object_vtable(m->bus, NULL, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Cannot serve %s: %s", PCRESET1_OBJECT_PATH, strerror(-r));
        r = sd_bus_match_signal(m->bus, &m->match_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch callers leaving the bus: %s", strerror(-r));
        return setup_monitor(m);
}

/* Every incoming message counts as activity for the idle exit. */
static int on_any_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        m->last_activity = loop_now(m);
        return 0;
}

/* Leaves when nothing is queued, running, being authorized or claimed, and
 * no call came for exit_idle_usec. D-Bus activation starts us again. */
static int on_idle_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = loop_now(m);

        if (!m->requests && polkit_n_pending(m->polkit) == 0 && claims_count(m->claims) == 0 &&
            now - m->last_activity >= m->exit_idle_usec) {
                log_info("Idle for %llu s, exiting", (unsigned long long) (m->exit_idle_usec / 1000000ULL));
                /* give up the name first, so new callers activate a new instance */
                (void) sd_bus_release_name(m->bus, PCRESET1_BUS_NAME);
                (void) sd_bus_flush(m->bus);
                return sd_event_exit(m->event, 0);
        }
        (void) sd_event_source_set_time(s, now + m->exit_idle_usec / 2);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_start(Manager *m) {
        /* only a reference: m->bus keeps the connection open */
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %s", strerror(-r));
        /* a bus restart ends us cleanly; activation brings us back */
        (void) sd_bus_set_exit_on_disconnect(bus, true);
        r = manager_serve(m, bus);
        if (r < 0)
                return r;
        r = sd_bus_request_name(m->bus, PCRESET1_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s on the system bus: %s", PCRESET1_BUS_NAME, strerror(-r));
        log_info("Serving %s", PCRESET1_BUS_NAME);
        if (m->exit_idle_usec > 0) {
                m->last_activity = loop_now(m);
                r = sd_bus_add_filter(m->bus, NULL, on_any_message, m);
                if (r >= 0)
                        r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC,
                                                       m->exit_idle_usec / 2, 0, on_idle_check, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up the idle exit: %s", strerror(-r));
        }
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* queued callers get Cancelled; running resets finish and are
         * answered as usual (the bus stays open until then) */
        for (Request *q = m->requests, *next; q; q = next) {
                next = q->next;
                if (m->scheduler && scheduler_cancel(m->scheduler, &q->job) >= 0) {
                        (void) sd_bus_reply_method_errorf(q->call, PCRESET1_ERROR_CANCELLED,
                                                          "pcresetd is stopping; %s was not reset",
                                                          q->exec.target.name);
                        request_free(q);
                }
        }
        scheduler_free(m->scheduler);
        while (m->requests)
                request_free(m->requests);
        polkit_registry_free(m->polkit);
        rates_free(m);
        while (m->callers) {
                KnownCaller *k = m->callers;
                m->callers = k->next;
                known_caller_free(k);
        }
        sd_event_source_disable_unref(m->idle_timer);
        sd_bus_slot_unref(m->match_slot);
        sd_device_monitor_unref(m->monitor);
        if (m->bus) {
                sd_bus_flush(m->bus);
                sd_bus_flush_close_unref(m->bus);
        }
        topology_free(m->topology);
        claims_free(m->claims);
        config_done(&m->config);
        free(m->sysfs_root);
        free(m->proc_root);
        free(m->dev_root);
        free(m->state_dir);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
