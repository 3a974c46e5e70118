/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "planner.h"
#include "util.h"

static const struct {
        const char *name;
        uint32_t scope; /* 0: the link, decided by the topology */
} kernel_methods[] = {
        { "device_specific", PCRESET_SCOPE_DEV_SPECIFIC },
        { "acpi",            PCRESET_SCOPE_ACPI },
        { "flr",             PCRESET_SCOPE_FLR },
        { "af_flr",          PCRESET_SCOPE_FLR },
        { "pm",              PCRESET_SCOPE_PM },
        { "bus",             0 },
        { "cxl_bus",         PCRESET_SCOPE_CXL_BUS },
};

const char *reset_mechanism_to_string(ResetMechanism m) {
        static const char *const names[_MECHANISM_MAX] = {
                [MECHANISM_KERNEL_METHOD] = "kernel-reset-method",
                [MECHANISM_RESET_SUBORDINATE] = "reset-subordinate",
                [MECHANISM_USERSPACE_SBR] = "userspace-sbr",
        };
        return m < _MECHANISM_MAX ? names[m] : NULL;
}

PciDevice *planner_domain_of(PciDevice *dev) {
        /* A VF on a root bus has no bridge above it, but its PF's FLR
         * resets it too: both must be one domain, or the scheduler would
         * run the PF's reset and the VF's side by side. */
        if (!dev->parent && dev->physfn)
                return planner_domain_of(dev->physfn);
        return dev->parent ?: dev;
}

typedef struct Reasons {
        char *text;
        bool unwanted;  /* only whether a plan exists is asked: format nothing */
} Reasons;

__attribute__((format(printf, 2, 3)))
static void add_reason(Reasons *r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        if (r->unwanted)
                return;
        va_start(ap, fmt);
        set_errorv(&s, 0, fmt, ap);
        va_end(ap);
        if (!s)
                return;
        if (!r->text) {
                r->text = s;
                return;
        }
        char *j = strjoin_printf("%s; %s", r->text, s);
        free(s);
        if (j) {
                free(r->text);
                r->text = j;
        }
}

/* A bridge, or anything sysfs shows devices below: whatever its header
 * said, resetting it reaches them. */
static bool has_subtree(const PciDevice *dev) {
        return dev->is_bridge || dev->n_below > 0;
}

/* Mirrors pci_dev_reset_slot_function(): the slot path needs a hotplug slot
 * and a single-function endpoint. */
static bool gets_slot_reset(const PciDevice *dev) {
        return dev->hotplug_slot && !dev->multifunction && !has_subtree(dev);
}

static void plan_init(ResetPlan *p, PciDevice *dev, uint32_t bit, const char *method, ResetMechanism mech) {
        *p = (ResetPlan) {
                .target = dev,
                .scope = bit,
                .kernel_method = method,
                .mechanism = mech,
                .domain = planner_domain_of(dev),
                .affected = { dev },
                .n_affected = 1,
        };
}

/* Everything below bridge, in address order: the hot-reset set. O(that
 * set): the topology keeps every bridge's subtree. */
static size_t collect_below(const Topology *t, const PciDevice *bridge, PciDevice **out, size_t max) {
        return topology_below(t, bridge, out, max);
}

static bool plan_link(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods, const PlannerEnv *env,
                      ResetPlan *p, Reasons *why) {
        PciDevice *bridge = dev->parent;

        /* a parent that is no bridge (a VMD endpoint above the root bus of
         * the domain it hosts) has no secondary bus to reset */
        if (!bridge || !bridge->is_bridge) {
                if (mask & (PCRESET_SCOPE_SLOT | PCRESET_SCOPE_BUS))
                        add_reason(why, "a bus reset of %s is impossible: it sits on a root bus with no bridge above it",
                                   dev->name);
                return false;
        }
        if (has_subtree(dev)) {
                if (mask & (PCRESET_SCOPE_SLOT | PCRESET_SCOPE_BUS))
                        add_reason(why, "%s is a bridge: reset the device below it, which resets the whole bus",
                                   dev->name);
                return false;
        }

        PciDevice *below[PLAN_MAX_AFFECTED] = {};
        size_t n = collect_below(t, bridge, below, ELEMENTSOF(below));
        if (n > ELEMENTSOF(below)) {
                add_reason(why, "a bus reset below %s would touch %zu devices, more than %zu", bridge->name, n,
                           ELEMENTSOF(below));
                return false;
        }

        /* 1. alone below the bridge: the kernel's own method */
        if (n == 1) {
                uint32_t bit = gets_slot_reset(dev) ? PCRESET_SCOPE_SLOT : PCRESET_SCOPE_BUS;
                if (!(mask & bit)) {
                        if (mask & PCRESET_SCOPE_LINK)
                                add_reason(why, bit == PCRESET_SCOPE_SLOT
                                           ? "a link reset of %s is a slot reset (hotplug slot %s), not allowed by the mask"
                                           : "a link reset of %s is a bus reset%s, not allowed by the mask",
                                           dev->name, bit == PCRESET_SCOPE_SLOT ? strempty(dev->slot) : "");
                        return false;
                }
                if (!strv_contains(methods, "bus")) {
                        add_reason(why, "the kernel offers no bus reset for %s (no 'bus' in its reset_method: the "
                                   "device is quirked NO_BUS_RESET, or the list is stale)", dev->name);
                        return false;
                }
                plan_init(p, dev, bit, "bus", MECHANISM_KERNEL_METHOD);
                p->link = true;
                p->bridge = bridge;
                return true;
        }

        /* several devices: a BUS reset of all of them, never below a hotplug port */
        PciDevice *other = below[0] == dev ? below[1] : below[0];
        if (!(mask & (PCRESET_SCOPE_BUS | PCRESET_SCOPE_SLOT)))
                return false;
        if (bridge->hotplug_port || dev->hotplug_slot) {
                add_reason(why, "a %s reset of %s would also reset %s (below hotplug port %s): the kernel offers "
                           "userspace no slot reset of a whole slot, and a raw bus reset there looks like a surprise "
                           "removal to pciehp", mask & PCRESET_SCOPE_SLOT ? "slot" : "bus", dev->name, other->name,
                           bridge->name);
                return false;
        }
        if (!(mask & PCRESET_SCOPE_BUS)) {
                add_reason(why, "a link reset of %s is a bus reset of %zu devices below %s, not allowed by the mask",
                           dev->name, n, bridge->name);
                return false;
        }

        /* 2. the kernel resets the subtree with save/restore and driver notification */
        if (bridge->has_reset_subordinate && (!env || env->use_reset_subordinate)) {
                plan_init(p, dev, PCRESET_SCOPE_BUS, NULL, MECHANISM_RESET_SUBORDINATE);
                goto several;
        }

        /* 3. ourselves, only where nobody can notice */
        const char *without = bridge->has_reset_subordinate
                ? "reset_subordinate, which UseResetSubordinate=no turns off,"
                : "reset_subordinate (Linux 6.13+, or a stable kernel with it),";
        if (!env || !env->allow_userspace_sbr) {
                add_reason(why, "a bus reset of %s would also reset %s; it needs %s and the userspace bus reset is "
                           "turned off (UserspaceBusReset=no)", dev->name, other->name, without);
                return false;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *busy = NULL;
                if (has_subtree(below[i])) {
                        add_reason(why, "a bus reset of %s would need %s because %s below %s is a bridge",
                                   dev->name, without, below[i]->name, bridge->name);
                        return false;
                }
                /* VF Enable lives in extended config space, which the
                 * userspace reset does not restore: the VFs would vanish
                 * under the kernel's feet */
                if (below[i]->physfn || below[i]->n_vfs > 0) {
                        add_reason(why, "a bus reset of %s would need %s because %s below %s is an SR-IOV %s",
                                   dev->name, without, below[i]->name, bridge->name,
                                   below[i]->physfn ? "VF" : "PF with VFs enabled");
                        return false;
                }
                if (!env->quiet || !env->quiet(env->userdata, below[i], &busy)) {
                        if (below[i] == dev)
                                add_reason(why, "a bus reset of %s would need %s because %s itself is %s, and %s "
                                           "shares the bus", dev->name, without, dev->name,
                                           busy ?: "in use", other->name);
                        else
                                add_reason(why, "a bus reset of %s would need %s because %s shares the bus and is %s",
                                           dev->name, without, below[i]->name, busy ?: "in use");
                        return false;
                }
        }
        plan_init(p, dev, PCRESET_SCOPE_BUS, NULL, MECHANISM_USERSPACE_SBR);

several:
        p->link = true;
        p->bridge = bridge;
        memcpy(p->affected, below, n * sizeof(PciDevice *));
        p->n_affected = n;
        return true;
}

/* A function-level reset of a bridge disrupts everything below it; one of
 * an SR-IOV PF clears VF Enable, so every VF is reset (re-created) with
 * it. A VF's own reset touches only the VF. */
static bool add_dependents(const Topology *t, ResetPlan *p, Reasons *why) {
        PciDevice *dev = p->target, *more[PLAN_MAX_AFFECTED];
        size_t n;

        if (has_subtree(dev))
                n = collect_below(t, dev, more, ELEMENTSOF(more));
        else if (dev->n_vfs > 0)
                n = topology_vfs(t, dev, more, ELEMENTSOF(more));
        else
                return true;
        if (n + 1 > ELEMENTSOF(p->affected)) {
                add_reason(why, "a %s reset of %s would touch %zu devices, more than %zu",
                           pcreset_scope_bit_name(p->scope), dev->name, n + 1, ELEMENTSOF(p->affected));
                return false;
        }
        memcpy(p->affected + 1, more, n * sizeof(PciDevice *));
        p->n_affected = n + 1;
        /* what it disrupts lies below its own domain: exclude the subtree */
        if (has_subtree(dev))
                p->link = true;
        return true;
}

static int found(Reasons *why) {
        free(why->text);
        return 0;
}

/* planner_plan(); ret_reason NULL: no reason is wanted (none is formatted). */
static int plan(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods, const PlannerEnv *env,
                ResetPlan *ret, char **ret_reason) {
        Reasons why = { .unwanted = !ret_reason };
        char mbuf[128];

        if (ret_reason)
                *ret_reason = NULL;
        if (!methods) {
                if (ret_reason)
                        *ret_reason = strjoin_printf("%s offers no reset: the kernel has no reset_method for it "
                                                     "(no reset support, or a kernel older than 5.15)", dev->name);
                return -EOPNOTSUPP;
        }
        if (!methods[0]) {
                /* an admin's "no resets for this device", also not through its bus */
                if (ret_reason)
                        *ret_reason = strjoin_printf("%s has every reset method disabled (its reset_method is empty)",
                                                     dev->name);
                return -EOPNOTSUPP;
        }

        for (size_t i = 0; i < ELEMENTSOF(kernel_methods); i++) {
                const char *m = kernel_methods[i].name;
                uint32_t bit = kernel_methods[i].scope;

                if (bit == 0) {
                        if ((mask & PCRESET_SCOPE_LINK & ~(uint32_t) PCRESET_SCOPE_CXL_BUS) &&
                            plan_link(t, dev, mask, methods, env, ret, &why))
                                return found(&why);
                        continue;
                }
                if (!(mask & bit) || !strv_contains(methods, m))
                        continue;
                if (bit == PCRESET_SCOPE_CXL_BUS) {
                        PciDevice *sib[1];
                        if (!dev->parent || !dev->parent->is_bridge || topology_bus_siblings(t, dev, sib, 1) > 0) {
                                add_reason(&why, "cxl_bus reset of %s is offered only for a device alone below its port",
                                           dev->name);
                                continue;
                        }
                        plan_init(ret, dev, bit, m, MECHANISM_KERNEL_METHOD);
                        ret->link = true;
                        ret->bridge = dev->parent;
                        if (add_dependents(t, ret, &why))
                                return found(&why);
                        continue;
                }
                plan_init(ret, dev, bit, m, MECHANISM_KERNEL_METHOD);
                if (add_dependents(t, ret, &why))
                        return found(&why);
        }

        if (!ret_reason)
                return -EOPNOTSUPP;
        _cleanup_free_ char *offered = strv_join(methods, " ");
        if (why.text)
                *ret_reason = strjoin_printf("no reset of %s inside mask %s can be done: %s (the kernel offers: %s)",
                                             dev->name, pcreset_scope_format(mask, mbuf, sizeof mbuf), why.text,
                                             strempty(offered));
        else
                *ret_reason = strjoin_printf("no reset of %s inside mask %s: the kernel offers only %s", dev->name,
                                             pcreset_scope_format(mask, mbuf, sizeof mbuf), strempty(offered));
        free(why.text);
        return -EOPNOTSUPP;
}

int planner_plan(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods, const PlannerEnv *env,
                 ResetPlan *ret, char **ret_reason) {
        return plan(t, dev, mask, methods, env, ret, ret_reason);
}

/* Plans each bit alone, as planner_plan() would, without the reasons:
 * ListDevices asks this of every device. */
uint32_t planner_available_scopes(const Topology *t, PciDevice *dev, char *const *methods, const PlannerEnv *env) {
        uint32_t avail = 0;

        for (uint32_t bit = 1; bit & PCRESET_SCOPE_KNOWN; bit <<= 1) {
                ResetPlan p;
                if (plan(t, dev, bit, methods, env, &p, NULL) >= 0)
                        avail |= p.scope;
        }
        return avail;
}
