/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "audit.h"
#include "bus.h"
#include "log.h"
#include "manager.h"
#include "pcreset1.h"
#include "util.h"
#include "vfioproof.h"

/* ---- replies and signals ---------------------------------------------- */

void bus_emit_reset_signal(sd_bus *bus, const char *member, const char *address, uint32_t scope, char **affected,
                           const char *result) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
        int r = sd_bus_message_new_signal(bus, &sig, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE, member);
        if (r >= 0)
                r = sd_bus_message_append(sig, "su", address, scope);
        if (r >= 0)
                r = sd_bus_message_append_strv(sig, affected);
        if (r >= 0)
                r = sd_bus_message_append(sig, "s", result);
        if (r >= 0)
                r = sd_bus_send(bus, sig, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot emit %s for %s: %m", member, address);
}

/* Opens the dict entry key -> an array ({sv} with v = array_sig, "a..."),
 * for its elements to be appended; close_array_entry() closes all three.
 * array_sig must outlive the entry: sd-bus keeps the variant's signature. */
static int open_array_entry(sd_bus_message *m, const char *key, const char *array_sig) {
        int r = sd_bus_message_open_container(m, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', array_sig);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', array_sig + 1);
        return r;
}

static int close_array_entry(sd_bus_message *m) {
        int r = 0;
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* The health entries of a details dict (health.h), when there is a report. */
static int append_health(sd_bus_message *m, const HealthReport *h) {
        _cleanup_free_ char *report = NULL;
        int r;

        if (!h || !h->devices)
                return 0;
        report = health_describe(h);
        if (!report)
                return -ENOMEM;
        r = sd_bus_message_append(m, "{sv}{sv}", "health", "s", health_outcome_to_string(health_outcome(h)),
                                  "health_report", "s", report);
        if (r >= 0)
                r = open_array_entry(m, "health_devices", "a(ssuuuusu)");
        for (size_t i = 0; r >= 0 && i < h->n; i++) {
                const DeviceHealth *d = &h->devices[i];
                r = sd_bus_message_append(m, "(ssuuuusu)", d->name, link_health_to_string(d->link),
                                          d->before.speed_mts, (uint32_t) d->before.width, d->after.speed_mts,
                                          (uint32_t) d->after.width, aer_health_to_string(d->aer), d->aer_new);
        }
        return r >= 0 ? close_array_entry(m) : r;
}

/* How a reset was done: ResetDeviceEx's details, and ResetCompletedEx's. */
static int append_reset_details(sd_bus_message *m, const ExecRequest *e, const char *bridge, uint64_t usec,
                                const HealthReport *health) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}",
                                          "mechanism", "s", reset_mechanism_to_string(e->mechanism),
                                          "method", "s", strempty(e->kernel_method),
                                          "bridge", "s", strempty(bridge),
                                          "duration_usec", "t", usec);
        if (r >= 0)
                r = append_health(m, health);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

void bus_emit_reset_completed_ex(sd_bus *bus, const ExecRequest *e, const char *bridge, char **affected,
                                 const char *result, uint64_t usec, const HealthReport *health) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
        int r = sd_bus_message_new_signal(bus, &sig, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                          "ResetCompletedEx");
        if (r >= 0)
                r = sd_bus_message_append(sig, "su", e->target.name, e->scope);
        if (r >= 0)
                r = sd_bus_message_append_strv(sig, affected);
        if (r >= 0)
                r = sd_bus_message_append(sig, "s", result);
        if (r >= 0)
                r = append_reset_details(sig, e, bridge, usec, health);
        if (r >= 0)
                r = sd_bus_send(bus, sig, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot emit ResetCompletedEx for %s: %m", e->target.name);
}

int bus_reply_reset(sd_bus_message *call, bool ex, const ExecRequest *e, const char *bridge, char **affected,
                    uint64_t usec, const HealthReport *health) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "u", e->scope);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, affected);
        if (r >= 0 && ex)
                r = append_reset_details(reply, e, bridge, usec, health);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static void audit_refusal(const Caller *c, const char *device, uint32_t mask, const Decision *d,
                          const sd_bus_error *e) {
        AuditCaller ac = caller_audit(c);
        bool planned = d && d->device && !d->error;
        const ResetPlan *p = planned ? &d->plan : NULL;
        _cleanup_strv_free_ char **aff = p ? decision_affected(d) : NULL;

        audit_log(&(AuditRecord) {
                .event = AUDIT_REFUSED, .caller = &ac, .device = device, .mask = mask,
                .scope = p ? p->scope : 0, .method = p ? p->kernel_method : NULL,
                .mechanism = p ? reset_mechanism_to_string(p->mechanism) : NULL,
                .bridge = p && p->bridge ? p->bridge->name : NULL, .affected = aff,
                .result = e->name, .detail = e->message,
        });
}

/* ---- methods ----------------------------------------------------------- */

/* Reads the 'ah' of ResetDeviceWithFds into the devices they prove. */
static int read_proofs(Manager *m, sd_bus_message *call, char ***proven, sd_bus_error *error) {
        int r = sd_bus_message_enter_container(call, 'a', "h");
        if (r < 0)
                return r;
        for (unsigned i = 0;; i++) {
                _cleanup_free_ char *why = NULL;
                int fd;
                r = sd_bus_message_read(call, "h", &fd);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = vfio_fd_devices(m->sysfs_root, fd, proven, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "fd #%u refused: %s", i,
                                                 why ?: strerror(-r));
        }
        return sd_bus_message_exit_container(call);
}

/* The decision needs a /proc scan: the call waits for one (off the loop)
 * and runs again. */
static int wait_for_scan(Manager *m, sd_bus_message *call, uid_t uid, bool fresh, sd_bus_error *error) {
        int r = scanner_wait(m->scanner, call, uid, fresh);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many calls wait for a scan of open files; try again shortly");
        return r < 0 ? r : 1;
}

static int scan_failed(int err, sd_bus_error *error) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot tell who holds VFIO devices open: %s",
                                 strerror(-err));
}

/* A reset's first run, kept with its polkit question: the decision and
 * the proofs it was made with, valid while no rescan freed a device it
 * points to. The request makes it again right before the reset
 * (request.h), so deciding a third time in between would add nothing -
 * unless it rested on a /proc scan: polkit may have thought for minutes,
 * and a holder that came meanwhile must be refused before the request is
 * accepted (and ResetStarted goes out), so such a call decides again on a
 * scan that started after the answer. */
typedef struct KeptReset {
        Decision d;
        char **proven;
        uint64_t generation;
        bool scanned;
} KeptReset;

static void kept_reset_free(void *p) {
        KeptReset *k = p;
        decision_done(&k->d);
        strv_free(k->proven);
        free(k);
}

static int reset_device(sd_bus_message *call, Manager *m, bool ex, bool fds, sd_bus_error *error) {
        _cleanup_(polkit_answer_done) PolkitAnswer answer = {};
        _cleanup_strv_free_ char **proven = NULL;
        _cleanup_(decision_done) Decision d = {};
        _cleanup_free_ char *limit = NULL;
        const Caller *caller = NULL;
        const char *address = NULL;
        uint32_t mask = 0;
        Holders *holders = NULL;
        int r, scan_error = 0;

        r = sd_bus_message_read(call, "su", &address, &mask);
        if (r >= 0)
                r = caller_get(m->callers, call, &caller, error);
        if (r != 0)
                return r; /* > 0: runs again when its caller is known */

        /* polkit answered: the decision the question was asked for is kept */
        polkit_take(m->polkit, call, &answer);
        /* a call back from a scan wait collects its scan first, whatever
         * refuses it below (a reset is decided on a scan that started
         * after the call came, or after polkit answered) */
        holders = scanner_get(m->scanner, call, true, &scan_error);
        /* a uid that already waits for all the answers it may: refused
         * before anything is decided, so its flood costs the loop little */
        if (!answer.have && (r = polkit_refuse_if_full(m->polkit, call, caller->uid, "reset a device", error)) < 0) {
                audit_refusal(caller, address, mask ?: PCRESET_SCOPE_ANY, NULL, error);
                /* answered late: a flood of them must not spin (tarpit.h) */
                int k = tarpit_hold(m->tarpit, call, caller->uid, error);
                if (k > 0)
                        sd_bus_error_free(error);
                return k > 0 ? 1 : r;
        }
        KeptReset *kept = answer.kept.data;
        if (kept && kept->generation == m->topology_generation && !kept->scanned) {
                d = kept->d;
                kept->d = (Decision) {};
                proven = TAKE_PTR(kept->proven);
        } else {
                /* an answer without a usable decision is bound to its
                 * question all the same (polkit_check compares) */
                if (fds)
                        r = read_proofs(m, call, &proven, error);
                /* no scan yet: the call waits for one, its answer kept
                 * for the next run */
                if (r >= 0 && !scan_error)
                        r = decision_make(&m->decide, &(DecisionInput) { .address = address, .mask = mask,
                                                                         .uid = caller->uid, .proven = proven,
                                                                         .holders = holders }, &d);
                if (r == -EAGAIN) {
                        if (answer.have && polkit_put_back(m->polkit, call, caller->uid, &answer) < 0)
                                return -ENOMEM;
                        r = wait_for_scan(m, call, caller->uid, true, error);
                        if (r > 0)
                                return r;
                }
        }
        if (scan_error)
                return scan_failed(scan_error, error);
        if (r < 0)
                return r;
        if (d.error) {
                sd_bus_error_set(error, d.error, d.message);
                audit_refusal(caller, address, mask ?: PCRESET_SCOPE_ANY, NULL, error);
                return -EINVAL;
        }
        if (d.busy)
                r = sd_bus_error_set(error, PCRESET1_ERROR_DEVICE_BUSY, d.busy);
        else if (request_queue_admit(m->requests, caller->uid, &limit) < 0)
                r = sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, limit ?: "limits exceeded");
        if (r >= 0 && !answer.have && caller->uid != 0) {
                /* the decision goes with the question; back here if none
                 * was asked */
                PolkitKeep keep = { calloc(1, sizeof(KeptReset)), kept_reset_free };
                if (!keep.data)
                        return -ENOMEM;
                *(KeptReset *) keep.data = (KeptReset) { .d = d, .proven = TAKE_PTR(proven),
                                                         .generation = m->topology_generation,
                                                         .scanned = holders != NULL };
                d = (Decision) {};
                const Decision *kd = &((KeptReset *) keep.data)->d;
                r = polkit_check(m->polkit, call, caller->uid, kd->action, kd->details, kd->what, &answer, &keep,
                                 error);
                if (keep.data) {
                        KeptReset *k = keep.data;
                        d = k->d;
                        proven = k->proven;
                        free(k);
                }
                if (r == 0)
                        return 1; /* asked: the decision is the question's now */
        } else if (r >= 0)
                r = polkit_check(m->polkit, call, caller->uid, d.action, d.details, d.what, &answer, NULL, error);
        if (r == 0)
                return 1; /* asked polkit again: the question changed */
        if (r < 0) {
                audit_refusal(caller, d.device->name, mask, &d, error);
                return r;
        }
        r = request_queue_submit(m->requests, call, caller, mask, ex, proven, &d);
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
        _cleanup_(decision_done) Decision d = {};
        const Caller *caller = NULL;
        const char *address = NULL;
        uint32_t mask = 0;
        int r;

        r = sd_bus_message_read(call, "su", &address, &mask);
        if (r < 0)
                return r;
        r = caller_get(m->callers, call, &caller, error);
        if (r != 0)
                return r;
        int scan_error = 0;
        Holders *holders = scanner_get(m->scanner, call, false, &scan_error);
        if (scan_error)
                return scan_failed(scan_error, error);
        r = decision_make(&m->decide, &(DecisionInput) { .address = address, .mask = mask, .uid = caller->uid,
                                                         .holders = holders }, &d);
        if (r == -EAGAIN)
                return wait_for_scan(m, call, caller->uid, false, error);
        if (r < 0)
                return r;
        if (d.error)
                return sd_bus_error_set(error, d.error, d.message);

        const ResetPlan *p = &d.plan;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "u", p->scope);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < p->n_affected; i++)
                r = sd_bus_message_append(reply, "(sss)", p->affected[i]->name,
                                          device_state_to_string(d.verdicts[i].state), d.verdicts[i].reason);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && ex)
                r = sd_bus_message_append(reply, "a{sv}", 4,
                                          "mechanism", "s", reset_mechanism_to_string(p->mechanism),
                                          "method", "s", strempty(p->kernel_method),
                                          "bridge", "s", p->bridge ? p->bridge->name : "",
                                          "domain", "s", p->domain->name);
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

static int claim_allowed(Manager *m, PciDevice *dev, uid_t uid, Holders *holders, sd_bus_error *error) {
        DeviceVerdict v = {};
        uid_t owner;
        int r;

        /* the admin gave it to someone by its node: not to be claimed away */
        r = ownership_node_owner(&m->exec.ownership, dev->syspath, &owner);
        if (r > 0 && owner != uid)
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                         "Cannot claim %s: its VFIO node belongs to %s. A claim never takes a device "
                                         "away from its user", dev->name, uid == 0 ? "another uid" : "another user");
        r = ownership_evaluate(&m->decide_ownership, dev->name, dev->syspath, uid, NULL, &holders, &v);
        if (r == -EAGAIN)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot decide whether %s is in use: %s",
                                         dev->name, strerror(-r));
        if (v.state == DEVICE_BUSY && !(uid == 0 && v.blocker == BLOCKER_HOST_DRIVER))
                r = sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                      "Cannot claim %s: %s. A claim never takes a device away from its user: only "
                                      "an idle device can be claimed", dev->name, v.reason);
        device_verdict_done(&v);
        return r;
}

/* What polkit is asked for a claim: action claim, details device, vendor,
 * product. */
typedef struct ClaimQuestion {
        char vendor[8], product[8];
        char *details[7];
        char what[sizeof("claim ") + PCI_ADDRESS_MAX];
} ClaimQuestion;

static void claim_question_init(ClaimQuestion *q, PciDevice *dev) {
        snprintf(q->vendor, sizeof q->vendor, "%04x", dev->vendor_id);
        snprintf(q->product, sizeof q->product, "%04x", dev->device_id);
        snprintf(q->what, sizeof q->what, "claim %s", dev->name);
        char *details[] = { (char *) "device", dev->name, (char *) "vendor", q->vendor, (char *) "product",
                            q->product, NULL };
        memcpy(q->details, details, sizeof details);
}

/* Handover: NeedsReset when the rule is on and uid would take dev over
 * from another uid without a reset (handover.h). */
static int handover_refuse(Manager *m, PciDevice *dev, uid_t uid, sd_bus_error *error) {
        uid_t owner = 0;
        if (!m->config.require_reset_on_handover ||
            handover_check(m->handover, dev->name, dev->vendor_id, dev->device_id, uid, &owner) >= 0)
                return 0;
        _cleanup_free_ char *who = ownership_may_see(uid, owner) ? ownership_describe_uid(owner) : NULL;
        return sd_bus_error_setf(error, PCRESET1_ERROR_NEEDS_RESET,
                                 "Cannot claim %s: %s had it and it was not reset since. Claim it with a reset "
                                 "(ClaimDeviceWithReset, \"pcresetctl claim --reset\")", dev->name,
                                 who ?: "another user");
}

/* A granted claim makes the device held by uid; a claim that cannot be
 * marked so is taken back (the mark is what protects the next user). */
static int claim_record(Manager *m, PciDevice *dev, uid_t uid, sd_bus_error *error) {
        uid_t holder;
        int r = claims_add(m->claims, dev->name, uid, dev->vendor_id, dev->device_id, &holder);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY, "%s is already claimed by another user",
                                         dev->name);
        if (r >= 0 && (r = handover_hold(m->handover, dev->name, dev->vendor_id, dev->device_id, uid)) < 0)
                (void) claims_remove(m->claims, dev->name);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot record the claim of %s: %s", dev->name,
                                         strerror(-r));
        return 0;
}

static int method_claim_device(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(polkit_answer_done) PolkitAnswer answer = {};
        _cleanup_free_ char *message = NULL;
        Manager *m = userdata;
        const Caller *caller = NULL;
        const char *address = NULL, *e;
        PciDevice *dev = NULL;
        uid_t holder = 0;
        int r, scan_error = 0;

        r = sd_bus_message_read(call, "s", &address);
        if (r >= 0)
                r = caller_get(m->callers, call, &caller, error);
        if (r > 0)
                return r; /* runs again when its caller is known */
        Holders *holders = r >= 0 ? scanner_get(m->scanner, call, true, &scan_error) : NULL;
        e = r >= 0 && !scan_error ? decision_find_current_device(&m->decide, address, &dev, &message) : NULL;
        /* A claim never takes a device away: only an idle device, or one
         * already the caller's, can be claimed. Root, the admin, may also
         * claim a device the host's own driver has (its reset then runs
         * under that driver), never one another user's process holds. */
        if (r >= 0 && !scan_error && !e && claims_get(m->claims, dev->name, &holder) < 0)
                r = claim_allowed(m, dev, caller->uid, holders, error);
        if (r == -EAGAIN && caller) {
                r = wait_for_scan(m, call, caller->uid, true, error);
                if (r > 0)
                        return r;
        }
        /* from here on this call is answered */
        polkit_take(m->polkit, call, &answer);
        if (r < 0)
                return r;
        if (scan_error)
                return scan_failed(scan_error, error);
        if (e)
                return sd_bus_error_set(error, e, message);
        if (!dev || !caller)
                return -EINVAL; /* cannot happen: both are set when r >= 0 and e is NULL */
        if (claims_get(m->claims, dev->name, &holder) >= 0) {
                if (holder == caller->uid)
                        return sd_bus_reply_method_return(call, NULL);
                if (caller->uid == 0)
                        return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                                 "%s is already claimed by uid %u; it must release it first",
                                                 dev->name, (unsigned) holder);
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                         "%s is already claimed by another user", dev->name);
        }

        /* A device in the middle of a reset is nobody's to take: the
         * reset was decided on its being idle, and what a new owner did
         * with it before the reset ended would not be reset (handover). */
        if (request_queue_resetting(m->requests, dev->name))
                return sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY,
                                         "Cannot claim %s: a reset that touches it is running; try again when it "
                                         "is done", dev->name);
        /* before polkit is asked: a yes would not help */
        r = handover_refuse(m, dev, caller->uid, error);
        if (r < 0)
                return r;
        ClaimQuestion q = {};
        claim_question_init(&q, dev);
        r = polkit_check(m->polkit, call, caller->uid, PCRESET1_ACTION_CLAIM, q.details, q.what, &answer, NULL, error);
        if (r <= 0)
                return r == 0 ? 1 : r;

        r = claim_record(m, dev, caller->uid, error);
        if (r < 0)
                return r;
        AuditCaller ac = caller_audit(caller);
        audit_log(&(AuditRecord) { .event = AUDIT_CLAIMED, .caller = &ac, .device = dev->name, .result = "ok" });
        return sd_bus_reply_method_return(call, NULL);
}

/* ClaimDeviceWithReset asks polkit twice, claim first: the claim question
 * polkit said yes to is kept with the reset question, and counts while
 * the device is the same (same details). */
typedef struct KeptClaim {
        char **details;
} KeptClaim;

static void kept_claim_free(void *p) {
        KeptClaim *k = p;
        strv_free(k->details);
        free(k);
}

/* The reset ClaimDevice's handover rule asks for, and the claim, in one
 * call: the reset is decided, authorized (polkit reset, and claim) and
 * queued as ResetDevice's; the claim is granted when it completed on
 * every device it touched (request.h). What ClaimDevice refuses but the
 * handover is refused before anything runs. */
static int method_claim_device_with_reset(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(polkit_answer_done) PolkitAnswer answer = {};
        _cleanup_(decision_done) Decision d = {};
        _cleanup_free_ char *limit = NULL;
        Manager *m = userdata;
        const Caller *caller = NULL;
        const char *address = NULL;
        uint32_t mask = 0;
        uid_t holder = 0;
        int r, scan_error = 0;

        r = sd_bus_message_read(call, "su", &address, &mask);
        if (r >= 0)
                r = caller_get(m->callers, call, &caller, error);
        if (r != 0)
                return r;
        polkit_take(m->polkit, call, &answer);
        /* a flood costs the loop little (as ResetDevice's) */
        if (!answer.have && (r = polkit_refuse_if_full(m->polkit, call, caller->uid, "claim a device with a reset",
                                                       error)) < 0) {
                audit_refusal(caller, address, mask ?: PCRESET_SCOPE_ANY, NULL, error);
                return r;
        }
        Holders *holders = scanner_get(m->scanner, call, true, &scan_error);
        if (!scan_error)
                r = decision_make(&m->decide, &(DecisionInput) { .address = address, .mask = mask, .uid = caller->uid,
                                                                 .holders = holders }, &d);
        if (r >= 0 && !scan_error && !d.error && claims_get(m->claims, d.device->name, &holder) < 0)
                r = claim_allowed(m, d.device, caller->uid, holders, error);
        if (r == -EAGAIN) {
                if (answer.have && polkit_put_back(m->polkit, call, caller->uid, &answer) < 0)
                        return -ENOMEM;
                sd_bus_error_free(error);
                r = wait_for_scan(m, call, caller->uid, true, error);
                if (r > 0)
                        return r;
        }
        if (scan_error)
                return scan_failed(scan_error, error);
        if (r >= 0 && d.error)
                r = sd_bus_error_set(error, d.error, d.message);
        else if (r >= 0 && claims_get(m->claims, d.device->name, &holder) >= 0 && holder != caller->uid)
                r = sd_bus_error_setf(error, PCRESET1_ERROR_DEVICE_BUSY, "%s is already claimed by another user",
                                      d.device->name);
        else if (r >= 0 && d.busy)
                r = sd_bus_error_set(error, PCRESET1_ERROR_DEVICE_BUSY, d.busy);
        else if (r >= 0 && request_queue_admit(m->requests, caller->uid, &limit) < 0)
                r = sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, limit ?: "limits exceeded");
        if (r < 0) {
                if (sd_bus_error_is_set(error))
                        audit_refusal(caller, address, mask ?: PCRESET_SCOPE_ANY, d.error ? NULL : &d, error);
                return r;
        }

        ClaimQuestion q = {};
        claim_question_init(&q, d.device);
        const KeptClaim *kc = answer.have && answer.kept.free == kept_claim_free ? answer.kept.data : NULL;
        if (!(kc && strv_equal(kc->details, q.details))) {
                r = polkit_check(m->polkit, call, caller->uid, PCRESET1_ACTION_CLAIM, q.details, q.what, &answer, NULL,
                                 error);
                if (r == 0)
                        return 1;
                if (r < 0) {
                        audit_refusal(caller, d.device->name, mask, &d, error);
                        return r;
                }
        }
        PolkitKeep keep = { calloc(1, sizeof(KeptClaim)), kept_claim_free };
        if (!keep.data)
                return -ENOMEM;
        for (char **x = q.details; *x; x++)
                if (strv_extend(&((KeptClaim *) keep.data)->details, *x) < 0) {
                        kept_claim_free(keep.data);
                        return -ENOMEM;
                }
        r = polkit_check(m->polkit, call, caller->uid, d.action, d.details, d.what, &answer, &keep, error);
        if (keep.data)
                kept_claim_free(keep.data);
        if (r == 0)
                return 1;
        if (r < 0) {
                audit_refusal(caller, d.device->name, mask, &d, error);
                return r;
        }
        r = request_queue_submit_claim(m->requests, call, caller, mask, &d);
        return r < 0 ? r : 1;
}

static int method_release_device(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *message = NULL;
        Manager *m = userdata;
        const Caller *caller = NULL;
        const char *address = NULL, *e;
        char name[PCI_ADDRESS_MAX];
        uid_t holder = 0;
        int r;

        r = sd_bus_message_read(call, "s", &address);
        if (r < 0)
                return r;
        e = decision_parse_address(address, name, &message);
        if (e)
                return sd_bus_error_set(error, e, message);
        r = caller_get(m->callers, call, &caller, error);
        if (r != 0)
                return r;
        /* a claim outlives its device; releasing it must work either way */
        if (claims_get(m->claims, name, &holder) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s is not claimed", name);
        if (holder != caller->uid && caller->uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is claimed by another user: only that user or root can release it",
                                         name);
        /* the holder lets go (also when root breaks the claim): dirty until
         * reset, written down first - a claim released with no mark would
         * hand the device on unreset (a device gone has none to keep) */
        PciDevice *dev = NULL;
        _cleanup_free_ char *ignored = NULL;
        if (!decision_find_device(&m->decide, name, &dev, &ignored) &&
            (r = handover_release(m->handover, name, dev->vendor_id, dev->device_id, holder)) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot release %s: cannot record that it "
                                         "needs a reset before its next user: %s", name, strerror(-r));
        r = claims_remove(m->claims, name);
        if (r < 0 && r != -ENOENT)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot release %s: %s", name, strerror(-r));
        AuditCaller ac = caller_audit(caller);
        audit_log(&(AuditRecord) { .event = AUDIT_RELEASED, .caller = &ac, .device = name, .result = "ok" });
        return sd_bus_reply_method_return(call, NULL);
}

/* ListDevicesEx's details of one device, handover part: "handover" s
 * (clean, held, dirty) and "handover_reason" s ("" when clean). */
static int append_handover_details(sd_bus_message *reply, HandoverState hs, const char *text) {
        return sd_bus_message_append(reply, "{sv}{sv}", "handover", "s", handover_state_to_string(hs),
                                     "handover_reason", "s", strempty(text));
}

/* ListDevicesEx's details of one device: the SR-IOV relation, the handover. */
static int append_device_details(sd_bus_message *reply, Manager *m, PciDevice *d, HandoverState hs,
                                 const char *handover) {
        PciDevice *vfs[PLAN_MAX_AFFECTED];
        size_t n = topology_vfs(m->topology, d, vfs, ELEMENTSOF(vfs));
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");

        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "physfn", "s", d->physfn ? d->physfn->name : "");
        if (r >= 0)
                r = open_array_entry(reply, "vfs", "as");
        for (size_t i = 0; r >= 0 && i < n && i < ELEMENTSOF(vfs); i++)
                r = sd_bus_message_append(reply, "s", vfs[i]->name);
        if (r >= 0)
                r = close_array_entry(reply);
        if (r >= 0)
                r = append_handover_details(reply, hs, handover);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int list_devices(sd_bus_message *call, Manager *m, bool ex, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *type = ex ? "ssqqsssssuasa{sv}" : "ssqqsssssuas";
        const Caller *caller = NULL;
        int r, scan_error = 0;

        r = caller_get(m->callers, call, &caller, error);
        if (r != 0)
                return r;
        Holders *holders = scanner_get(m->scanner, call, false, &scan_error);
        if (scan_error)
                return scan_failed(scan_error, error);
        decision_refresh(&m->decide);
        _cleanup_(decision_facts_freep) DecisionFacts *facts = decision_facts_new(&m->decide);
        if (!facts)
                return -ENOMEM;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', ex ? "(ssqqsssssuasa{sv})" : "(ssqqsssssuas)");
        for (size_t i = 0; r >= 0 && i < topology_count(m->topology); i++) {
                PciDevice *d = topology_get(m->topology, i);
                _cleanup_strv_free_ char **methods = NULL;
                _cleanup_free_ char *handover = NULL, *reason = NULL;
                HandoverState hs;
                DeviceVerdict v = {};
                uint32_t scopes = 0;

                r = decision_describe_device(&m->decide, d, caller->uid, holders, facts, &v, &scopes, &methods);
                if (r == -EAGAIN)
                        return wait_for_scan(m, call, caller->uid, false, error);
                /* ListDevices has no details: its reason tells the handover */
                if (r >= 0)
                        handover = handover_describe(m->handover, d->name, d->vendor_id, d->device_id, caller->uid,
                                                     &hs);
                if (r >= 0 && handover && !ex && !(reason = strjoin_printf("%s; %s", v.reason, handover)))
                        r = -ENOMEM;
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'r', type);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ssqqsssssu", d->name, d->parent ? d->parent->name : "",
                                                  d->vendor_id, d->device_id, strempty(d->label), strempty(v.driver),
                                                  device_state_to_string(v.state), reason ?: v.reason,
                                                  planner_domain_of(d)->name, scopes);
                if (r >= 0)
                        r = sd_bus_message_append_strv(reply, methods);
                if (r >= 0 && ex)
                        r = append_device_details(reply, m, d, hs, handover);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                device_verdict_done(&v);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_devices(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return list_devices(call, userdata, false, error);
}

static int method_list_devices_ex(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return list_devices(call, userdata, true, error);
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
        SD_BUS_METHOD_WITH_ARGS("ClaimDeviceWithReset",
                                SD_BUS_ARGS("s", address, "u", scope),
                                SD_BUS_RESULT("u", performed, "as", affected, "a{sv}", details),
                                method_claim_device_with_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseDevice",
                                SD_BUS_ARGS("s", address),
                                SD_BUS_NO_RESULT,
                                method_release_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssqqsssssuas)", devices),
                                method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevicesEx",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssqqsssssuasa{sv})", devices),
                                method_list_devices_ex, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ResetStarted",
                                SD_BUS_ARGS("s", address, "u", performed, "as", affected, "s", result), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ResetCompleted",
                                SD_BUS_ARGS("s", address, "u", performed, "as", affected, "s", result), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ResetCompletedEx",
                                SD_BUS_ARGS("s", address, "u", performed, "as", affected, "s", result,
                                            "a{sv}", details), 0),
        SD_BUS_VTABLE_END
};

int bus_add_manager_object(Manager *m) {
        return sd_bus_add_object_vtable(m->bus, &m->vtable_slot, PCRESET1_OBJECT_PATH, PCRESET1_MANAGER_INTERFACE,
                                        manager_vtable, m);
}
