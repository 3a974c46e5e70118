/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "decision.h"
#include "log.h"
#include "pcreset1.h"
#include "reset-method.h"
#include "util.h"

/* At most this many directories held open by one call. */
#define DIRFDS_MAX 256

struct DecisionFacts {
        const Topology *topology;
        size_t n;
        struct {
                const PciDevice *dev;
                DeviceFacts facts;
        } *slots;               /* by PciDevice.index, allocated when first asked */
        bool use_dirfds;
        int *dirfds;            /* by the parent bridge's index: O_PATH fd of its directory, -1 none yet, -2 none */
        unsigned n_dirfds;
        bool bound_tried;
        char **drivers;         /* the PCI drivers' names, when bound is used */
        const char **bound;     /* by device index: its driver (one of drivers), NULL: unbound */
        bool *ambiguous;        /* listed by two drivers (a rebind while we read): read its own link */
};

#define BOUND_MIN_FUNCTIONS_PER_DRIVER 4

static void bound_free(DecisionFacts *f) {
        f->drivers = strv_free(f->drivers);
        f->bound = mfree(f->bound);
        f->ambiguous = mfree(f->ambiguous);
}

/* ListDevices: which driver every function is bound to, read from the
 * drivers' side (<sysfs>/bus/pci/drivers/<driver>/<function>, the link the
 * kernel makes and removes together with the function's own driver link),
 * once for the call: one directory per driver instead of one readlink per
 * function. Only when there are at least BOUND_MIN_FUNCTIONS_PER_DRIVER
 * functions per driver (else the links are cheaper), and any error but a
 * driver that went away meanwhile drops the listing: each function then
 * reads its own link. */
static void list_bound(DecisionFacts *f) {
        _cleanup_free_ char *dir = strjoin_printf("%s/bus/pci/drivers", topology_sysfs_root(f->topology));
        _cleanup_closedir_ DIR *d = NULL;
        size_t n = 0;

        f->bound_tried = true;
        if (!dir || !(d = opendir(dir)))
                return;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                if ((n + 1) * BOUND_MIN_FUNCTIONS_PER_DRIVER > f->n || strv_extend(&f->drivers, de->d_name) < 0)
                        return bound_free(f);
                n++;
        }
        if (!(f->bound = calloc(f->n ?: 1, sizeof *f->bound)) || !(f->ambiguous = calloc(f->n ?: 1, sizeof(bool))))
                return bound_free(f);
        for (size_t i = 0; i < n; i++) {
                int fd = openat(dirfd(d), f->drivers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT)
                        continue; /* unregistered meanwhile: its functions are unbound */
                _cleanup_closedir_ DIR *dd = fd >= 0 ? fdopendir(fd) : NULL;
                if (!dd) {
                        if (fd >= 0)
                                close(fd);
                        return bound_free(f);
                }
                for (struct dirent *de; (de = readdir(dd));) {
                        char canonical[PCI_ADDRESS_MAX];
                        PciAddress a;
                        if (pci_address_parse(de->d_name, &a) < 0 ||
                            !streq(pci_address_format(&a, canonical), de->d_name))
                                continue;
                        PciDevice *x = topology_find(f->topology, &a);
                        if (!x)
                                continue;
                        if (f->bound[x->index])
                                f->ambiguous[x->index] = true;
                        f->bound[x->index] = f->drivers[i];
                }
        }
}

static DecisionFacts *facts_new(const DecisionContext *ctx, bool use_dirfds) {
        DecisionFacts *f = calloc(1, sizeof *f);
        if (f)
                *f = (DecisionFacts) { .topology = ctx->topology, .n = topology_count(ctx->topology),
                                       .use_dirfds = use_dirfds };
        return f;
}

/* ListDevices reads every device's facts and reset_method: through an open
 * fd of each bridge's directory, a short lookup each instead of a walk of
 * the whole sysfs path (the path walks were a third of the call). */
DecisionFacts *decision_facts_new(const DecisionContext *ctx) {
        return facts_new(ctx, true);
}

DecisionFacts *decision_facts_free(DecisionFacts *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; f->slots && i < f->n; i++)
                if (f->slots[i].dev)
                        device_facts_done(&f->slots[i].facts);
        for (size_t i = 0; f->dirfds && i < f->n; i++)
                if (f->dirfds[i] >= 0)
                        close(f->dirfds[i]);
        bound_free(f);
        free(f->slots);
        free(f->dirfds);
        free(f);
        return NULL;
}

/* An fd of the directory holding d's (its parent bridge's), open until f is
 * freed; -1 when there is none (a root bus, ENOMEM, too many open). */
static int parent_dirfd(DecisionFacts *f, const PciDevice *d) {
        const PciDevice *p = d->parent;
        size_t len;

        if (!f->use_dirfds || !p || p->index >= f->n || topology_get(f->topology, p->index) != p)
                return -1;
        len = strlen(p->syspath);
        if (strncmp(d->syspath, p->syspath, len) != 0 || d->syspath[len] != '/' || strchr(d->syspath + len + 1, '/'))
                return -1;
        if (!f->dirfds) {
                if (!(f->dirfds = malloc(sizeof(int) * f->n)))
                        return -1;
                for (size_t i = 0; i < f->n; i++)
                        f->dirfds[i] = -1;
        }
        if (f->dirfds[p->index] == -1) {
                int fd = f->n_dirfds < DIRFDS_MAX ? open(p->syspath, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
                f->dirfds[p->index] = fd >= 0 ? fd : -2;
                f->n_dirfds += fd >= 0;
        }
        return f->dirfds[p->index] >= 0 ? f->dirfds[p->index] : -1;
}

/* d's facts of this call; NULL (the caller reads its own) without a
 * DecisionFacts, on ENOMEM, or for a device it does not know. */
static DeviceFacts *facts_of(DecisionFacts *f, const PciDevice *d) {
        if (!f || d->index >= f->n || topology_get(f->topology, d->index) != d)
                return NULL;
        if (!f->slots && !(f->slots = calloc(f->n, sizeof *f->slots)))
                return NULL;
        if (!f->slots[d->index].dev) {
                f->slots[d->index].dev = d;
                device_facts_init_at(&f->slots[d->index].facts, parent_dirfd(f, d),
                                     strrchr(d->syspath, '/') + 1, d->syspath);
                if (f->use_dirfds && !f->bound_tried)
                        list_bound(f);
                if (f->bound && !f->ambiguous[d->index])
                        (void) device_facts_set_driver(&f->slots[d->index].facts, f->bound[d->index]);
        }
        return &f->slots[d->index].facts;
}

static int evaluate(const DecisionContext *ctx, DecisionFacts *facts, const PciDevice *d, uid_t uid,
                    char *const *proven, Holders **holders, DeviceVerdict *ret) {
        DeviceFacts *f = facts_of(facts, d);
        return f ? ownership_evaluate_facts(ctx->ownership, d->name, f, uid, proven, holders, ret)
                 : ownership_evaluate(ctx->ownership, d->name, d->syspath, uid, proven, holders, ret);
}

/* The planner asks whether a device is quiet; the verdicts later share the
 * same /proc scan, and the same facts. */
typedef struct QuietCtx {
        const OwnershipContext *ownership;
        uid_t viewer;
        Holders **holders;
        DecisionFacts *facts;
        bool needed_scan;       /* a quiet check wanted a scan it was not given */
} QuietCtx;

static bool device_quiet(void *userdata, const PciDevice *d, char **why) {
        QuietCtx *q = userdata;
        DeviceFacts *f = facts_of(q->facts, d);
        bool quiet = false;

        int r = f ? ownership_device_quiet_facts(q->ownership, d->name, f, q->viewer, q->holders, &quiet, why)
                  : ownership_device_quiet(q->ownership, d->name, d->syspath, q->viewer, q->holders, &quiet, why);
        if (r == -EAGAIN)
                q->needed_scan = true;
        return r >= 0 && quiet;
}

static PlannerEnv planner_env(const DecisionContext *ctx, QuietCtx *q, uid_t viewer, Holders **holders,
                              DecisionFacts *facts) {
        *q = (QuietCtx) { .ownership = ctx->ownership, .viewer = viewer, .holders = holders, .facts = facts };
        return (PlannerEnv) {
                .use_reset_subordinate = ctx->config->use_reset_subordinate,
                .allow_userspace_sbr = ctx->config->userspace_bus_reset,
                .quiet = device_quiet,
                .userdata = q,
        };
}

/* Always, even with a uevent monitor: sd-device's monitor hears udevd's
 * rebroadcasts only, so without udevd (a minimal host, a guest) VFs
 * enabled after start would never be seen. One readdir; a rescan only
 * when the list changed. */
void decision_refresh(const DecisionContext *ctx) {
        bool changed = false;
        int r = topology_refresh(ctx->topology, &changed);
        if (r < 0)
                log_warning_errno(r, "Rescanning PCI devices failed: %m");
        else if (changed && ctx->topology_changed)
                ctx->topology_changed(ctx->userdata);
}

__attribute__((format(printf, 3, 4)))
static int refuse(Decision *d, const char *error, const char *fmt, ...) {
        va_list ap;

        d->error = error;
        va_start(ap, fmt);
        set_errorv(&d->message, 0, fmt, ap);
        va_end(ap);
        return d->message ? 0 : -ENOMEM;
}

/* "Refusing to reset X with flr: 0000:01:00.1 (snd_hda_intel): in use by
 * the host. Claim the device ..." */
static char *busy_message(const Decision *d) {
        _cleanup_free_ char *list = NULL;
        size_t n_busy = 0;

        for (size_t i = 0; i < d->n_verdicts; i++) {
                const DeviceVerdict *v = &d->verdicts[i];
                if (v->state != DEVICE_BUSY)
                        continue;
                char *j = strjoin_printf("%s%s%s%s%s%s: %s", strempty(list), list ? "; " : "",
                                         d->plan.affected[i]->name, v->driver ? " (" : "", strempty(v->driver),
                                         v->driver ? ")" : "", v->reason);
                if (!j)
                        return NULL;
                free(list);
                list = j;
                n_busy++;
        }
        if (!n_busy)
                return NULL;
        const char *them = n_busy > 1 ? "them" : "it";
        return strjoin_printf("Refusing to reset %s with %s: %s. Claim %s (ClaimDevice), bind %s to vfio-pci, or "
                              "stop what uses %s.", d->plan.target->name, pcreset_scope_bit_name(d->plan.scope), list,
                              n_busy > 1 ? "the devices" : "the device", them, them);
}

char **decision_affected(const Decision *d) {
        char **l = calloc(d->plan.n_affected + 1, sizeof(char *));
        for (size_t i = 0; l && i < d->plan.n_affected; i++)
                if (!(l[i] = strdup(d->plan.affected[i]->name)))
                        return strv_free(l);
        return l;
}

static int polkit_question(const DecisionInput *in, Decision *d) {
        const PciDevice *dev = d->device;
        _cleanup_strv_free_ char **aff = decision_affected(d);
        _cleanup_free_ char *affected = aff ? strv_join(aff, ",") : NULL;
        char vendor[8], product[8], mask[16];

        if (!affected)
                return -ENOMEM;
        snprintf(vendor, sizeof vendor, "%04x", dev->vendor_id);
        snprintf(product, sizeof product, "%04x", dev->device_id);
        snprintf(mask, sizeof mask, "0x%08x", in->mask);
        const char *pairs[] = {
                "device", dev->name,
                "vendor", vendor,
                "product", product,
                "scope", pcreset_scope_bit_name(d->plan.scope),
                "mask", mask,
                "affected", affected,
        };
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
                if (strv_extend(&d->details, pairs[i]) < 0)
                        return -ENOMEM;
        d->action = PCRESET1_ACTION_RESET;
        d->what = strjoin_printf("reset %s", dev->name);
        return d->what ? 0 : -ENOMEM;
}

const char *decision_parse_address(const char *address, char name[static PCI_ADDRESS_MAX], char **ret_message) {
        PciAddress a;

        if (pci_address_parse(address, &a) < 0) {
                set_errorf(ret_message, 0, "Invalid PCI address '%.64s': expected DDDD:BB:DD.F or BB:DD.F in hex, "
                           "e.g. 0000:01:00.0", address);
                return SD_BUS_ERROR_INVALID_ARGS;
        }
        pci_address_format(&a, name);
        return NULL;
}

const char *decision_find_device(const DecisionContext *ctx, const char *address, PciDevice **ret,
                                 char **ret_message) {
        char name[PCI_ADDRESS_MAX];
        PciAddress a;
        const char *e = decision_parse_address(address, name, ret_message);

        if (e)
                return e;
        decision_refresh(ctx);
        (void) pci_address_parse(name, &a);
        *ret = topology_find(ctx->topology, &a);
        if (*ret)
                return NULL;
        set_errorf(ret_message, 0, "No PCI device %s on this host", name);
        return PCRESET1_ERROR_NO_SUCH_DEVICE;
}

/* <syspath>/<attr>, one number in base, at most max. */
static int read_number(const char *syspath, const char *attr, int base, unsigned long max, unsigned *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/%s", syspath, attr), *line = NULL;
        if (!p)
                return -ENOMEM;
        int r = read_one_line_file(p, &line);
        if (r < 0)
                return r;
        char *end;
        errno = 0;
        unsigned long v = strtoul(line, &end, base);
        if (errno || end == line || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* A PF's VFs as the kernel lists them: its virtfnN links. Not
 * sriov_numvfs: reading that takes the device lock, which a reset of the
 * PF holds for its whole length, and the loop must never wait on it. */
static int count_virtfns(const char *syspath, unsigned *ret) {
        _cleanup_closedir_ DIR *dir = opendir(syspath);
        unsigned n = 0;
        if (!dir)
                return -errno;
        for (struct dirent *e; (e = readdir(dir));)
                n += startswith(e->d_name, "virtfn");
        *ret = n;
        return 0;
}

/* What the topology remembers of dev is what sysfs says of it now, where
 * the list of names cannot tell (a sandboxed daemon hears no uevent, and
 * a host without udevd hears none at all):
 *  - its ids: a card swapped at the same address leaves the names as they
 *    were, so polkit would be asked about, and claims applied to, the
 *    card that left;
 *  - its SR-IOV links: the kernel adds a VF's device, then the PF's
 *    virtfnN link, then the VF's physfn link; a rescan in between left a
 *    VF without its PF (another reset domain, missing from the PF's FLR).
 * Sysfs reads and lookups that take no device lock, no config space. */
static bool device_current(const PciDevice *dev) {
        unsigned v, p, n = 0;
        if (read_number(dev->syspath, "vendor", 16, 0xffff, &v) < 0 ||
            read_number(dev->syspath, "device", 16, 0xffff, &p) < 0 || v != dev->vendor_id || p != dev->device_id)
                return false;
        if (dev->physfn)
                return true;
        _cleanup_free_ char *link = strjoin_printf("%s/physfn", dev->syspath),
                            *total = strjoin_printf("%s/sriov_totalvfs", dev->syspath);
        if (link && access(link, F_OK) == 0)
                return false;
        /* a PF (only a PF has sriov_totalvfs): as many VFs as it links */
        return !total || access(total, F_OK) < 0 || count_virtfns(dev->syspath, &n) < 0 || n == dev->n_vfs;
}

const char *decision_find_current_device(const DecisionContext *ctx, const char *address, PciDevice **ret,
                                         char **ret_message) {
        const char *e = decision_find_device(ctx, address, ret, ret_message);
        if (e || device_current(*ret))
                return e;
        log_info("%s is not the device it was when last scanned: rescanning", (*ret)->name);
        topology_invalidate(ctx->topology);
        return decision_find_device(ctx, address, ret, ret_message);
}

static int decide(const DecisionContext *ctx, const DecisionInput *in, Decision *ret);

int decision_make(const DecisionContext *ctx, const DecisionInput *in, Decision *ret) {
        int r = decide(ctx, in, ret);
        if (r < 0 || ret->error)
                return r;
        for (size_t i = 0; i < ret->plan.n_affected; i++)
                if (!device_current(ret->plan.affected[i])) {
                        log_info("%s is not the device it was when last scanned: rescanning",
                                 ret->plan.affected[i]->name);
                        decision_done(ret);
                        topology_invalidate(ctx->topology);
                        /* once: a card that keeps changing is decided on
                         * whatever the rescan read */
                        return decide(ctx, in, ret);
                }
        return r;
}

static int decide(const DecisionContext *ctx, const DecisionInput *in, Decision *ret) {
        _cleanup_strv_free_ char **methods = NULL;
        _cleanup_free_ char *reason = NULL;
        Decision *d = ret;
        int r;

        *d = (Decision) {};
        if (!pcreset_scope_mask_valid(in->mask))
                return refuse(d, SD_BUS_ERROR_INVALID_ARGS,
                              "Invalid scope mask 0x%08x: use a non-zero combination of DEV_SPECIFIC 0x01, FLR 0x02, "
                              "PM 0x04, SLOT 0x08, BUS 0x10, ACPI 0x20, CXL_BUS 0x40, or ANY 0xffffffff", in->mask);
        d->error = decision_find_device(ctx, in->address, &d->device, &d->message);
        if (d->error)
                return d->message ? 0 : -ENOMEM;

        r = reset_method_read(d->device->syspath, &methods);
        if (r < 0)
                return refuse(d, PCRESET1_ERROR_RESET_FAILED, "Cannot read the reset_method of %s: %s",
                              d->device->name, strerror(-r));
        Holders *holders = in->holders;
        _cleanup_(decision_facts_freep) DecisionFacts *facts = facts_new(ctx, false);
        QuietCtx q;
        PlannerEnv env = planner_env(ctx, &q, in->uid, &holders, facts);
        r = planner_plan(ctx->topology, d->device, in->mask, methods, &env, &d->plan, &reason);
        if (r >= 0)
                for (; d->n_verdicts < d->plan.n_affected; d->n_verdicts++) {
                        const PciDevice *x = d->plan.affected[d->n_verdicts];
                        r = evaluate(ctx, facts, x, in->uid, in->proven, &holders, &d->verdicts[d->n_verdicts]);
                        if (r == -EAGAIN)
                                return r;
                        if (r < 0)
                                return refuse(d, SD_BUS_ERROR_FAILED, "Cannot decide whether %s is in use: %s",
                                              x->name, strerror(-r));
                }
        /* a quiet check of the planner wanted a scan: its answer is unknown */
        if (q.needed_scan)
                return -EAGAIN;
        if (r == -EOPNOTSUPP)
                return refuse(d, PCRESET1_ERROR_NOT_SUPPORTED, "%s", reason ?: "not supported");
        if (r < 0)
                return refuse(d, SD_BUS_ERROR_FAILED, "Cannot plan a reset of %s: %s", d->device->name, strerror(-r));

        d->busy = busy_message(d);
        return polkit_question(in, d);
}

void decision_done(Decision *d) {
        for (size_t i = 0; i < d->n_verdicts; i++)
                device_verdict_done(&d->verdicts[i]);
        free(d->message);
        free(d->busy);
        strv_free(d->details);
        free(d->what);
        *d = (Decision) {};
}

static bool plan_touches(const ResetPlan *p, const char *name) {
        for (size_t i = 0; i < p->n_affected; i++)
                if (streq(p->affected[i]->name, name))
                        return true;
        return false;
}

static const ExecDevice *accepted_device(const ExecRequest *e, const char *name) {
        for (size_t i = 0; i < e->n_affected; i++)
                if (streq(e->affected[i].name, name))
                        return &e->affected[i];
        return NULL;
}

bool decision_matches(const Decision *d, const ExecRequest *e, char **ret_why) {
        const ResetPlan *p = &d->plan;
        const char *bridge = p->target && p->target->parent ? p->target->parent->name : "";

        /* the same devices, not only the same addresses: polkit rules and
         * claims decided on vendor and product */
        for (size_t i = 0; i < p->n_affected; i++) {
                const ExecDevice *x = accepted_device(e, p->affected[i]->name);
                if (x && (x->vendor_id != p->affected[i]->vendor_id || x->device_id != p->affected[i]->device_id)) {
                        set_errorf(ret_why, 0, "%s was replaced by another device (%04x:%04x, was %04x:%04x) "
                                   "while the request was queued", x->name, p->affected[i]->vendor_id,
                                   p->affected[i]->device_id, x->vendor_id, x->device_id);
                        return false;
                }
        }

        if (p->scope != e->scope || p->mechanism != e->mechanism || !streq_ptr(p->kernel_method, e->kernel_method) ||
            !streq(bridge, e->bridge.name)) {
                set_errorf(ret_why, 0, "the reset of %s would now be a %s reset (%s) instead of %s (%s)",
                           e->target.name, pcreset_scope_bit_name(p->scope), reset_mechanism_to_string(p->mechanism),
                           pcreset_scope_bit_name(e->scope), reset_mechanism_to_string(e->mechanism));
                return false;
        }
        for (size_t i = 0; i < p->n_affected; i++)
                if (!accepted_device(e, p->affected[i]->name)) {
                        set_errorf(ret_why, 0, "%s appeared below %s while the reset of %s was queued, and the reset "
                                   "would touch it", p->affected[i]->name, bridge[0] ? bridge : "the root bus",
                                   e->target.name);
                        return false;
                }
        for (size_t i = 0; i < e->n_affected; i++)
                if (!plan_touches(p, e->affected[i].name)) {
                        set_errorf(ret_why, 0, "%s was removed while the request was queued", e->affected[i].name);
                        return false;
                }
        return true;
}

int decision_describe_device(const DecisionContext *ctx, PciDevice *d, uid_t uid, Holders *holders,
                             DecisionFacts *facts, DeviceVerdict *ret_verdict, uint32_t *ret_scopes,
                             char ***ret_methods) {
        char **methods = NULL;
        QuietCtx q;

        int r = evaluate(ctx, facts, d, uid, NULL, &holders, ret_verdict);
        if (r < 0)
                return r;
        DeviceFacts *f = facts_of(facts, d);
        if (reset_method_read_at(f ? f->dirfd : -1, f ? f->relname : NULL, d->syspath, &methods) < 0)
                methods = NULL;
        PlannerEnv env = planner_env(ctx, &q, uid, &holders, facts);
        *ret_scopes = planner_available_scopes(ctx->topology, d, methods, &env);
        if (q.needed_scan) {
                strv_free(methods);
                device_verdict_done(ret_verdict);
                return -EAGAIN;
        }
        *ret_methods = methods;
        return 0;
}
