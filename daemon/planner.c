/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "planner.h"
#include "util.h"

static const struct {
        const char *name;
        uint32_t scope; /* 0: decided by the topology (bus) */
} kernel_methods[] = {
        { "device_specific", PCRESET_SCOPE_DEV_SPECIFIC },
        { "acpi",            PCRESET_SCOPE_ACPI },
        { "flr",             PCRESET_SCOPE_FLR },
        { "af_flr",          PCRESET_SCOPE_FLR },
        { "pm",              PCRESET_SCOPE_PM },
        { "bus",             0 },
        { "cxl_bus",         PCRESET_SCOPE_CXL_BUS },
};

PciDevice *planner_domain_of(PciDevice *dev) {
        return dev->parent ?: dev;
}

/* Mirrors pci_dev_reset_slot_function(): the slot path needs a hotplug slot
 * and a single-function endpoint. */
static bool gets_slot_reset(const PciDevice *dev) {
        return dev->hotplug_slot && !dev->multifunction && !dev->is_bridge;
}

typedef struct Reasons {
        char *text;
} Reasons;

__attribute__((format(printf, 2, 3)))
static void add_reason(Reasons *r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
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

/* Can the kernel's bus/cxl_bus method reset dev alone? Explains if not. */
static bool link_reset_possible(const Topology *t, PciDevice *dev, const char *method, uint32_t bit, Reasons *why) {
        const char *scope = pcreset_scope_bit_name(bit);
        PciDevice *sib[4];

        if (!dev->parent) {
                add_reason(why, "%s reset of %s is impossible: it sits on a root bus with no bridge above it",
                           scope, dev->name);
                return false;
        }
        if (dev->is_bridge) {
                add_reason(why, "%s reset of %s is not offered: it is a bridge and the kernel's '%s' method "
                           "resets only endpoints", scope, dev->name, method);
                return false;
        }
        size_t n = topology_bus_siblings(t, dev, sib, ELEMENTSOF(sib));
        if (n > 0) {
                add_reason(why, "%s reset of %s would also reset %s%s (on the same bus below %s); "
                           "resets touching several devices are not supported yet",
                           scope, dev->name, sib[0]->name, n > 1 ? " and others" : "", dev->parent->name);
                return false;
        }
        return true;
}

static uint32_t bus_scope_of(const PciDevice *dev) {
        return gets_slot_reset(dev) ? PCRESET_SCOPE_SLOT : PCRESET_SCOPE_BUS;
}

int planner_plan(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods,
                 ResetPlan *ret, char **ret_reason) {
        Reasons why = {};
        char mbuf[128];

        *ret_reason = NULL;
        if (!methods) {
                *ret_reason = strjoin_printf("%s offers no reset: the kernel has no reset_method for it "
                                             "(no reset support, or a kernel older than 5.15)", dev->name);
                return -EOPNOTSUPP;
        }
        if (!methods[0]) {
                *ret_reason = strjoin_printf("%s has every reset method disabled (its reset_method is empty)",
                                             dev->name);
                return -EOPNOTSUPP;
        }

        for (size_t i = 0; i < ELEMENTSOF(kernel_methods); i++) {
                const char *m = kernel_methods[i].name;
                uint32_t bit = kernel_methods[i].scope;
                bool link = false;

                if (!strv_contains(methods, m))
                        continue;
                if (streq(m, "bus")) {
                        bit = bus_scope_of(dev);
                        link = true;
                } else if (streq(m, "cxl_bus"))
                        link = true;

                if (!(mask & bit)) {
                        if (streq(m, "bus") && (mask & PCRESET_SCOPE_LINK))
                                add_reason(&why, bit == PCRESET_SCOPE_SLOT
                                           ? "the kernel's 'bus' method of %s is a slot reset (hotplug slot %s), not allowed by the mask"
                                           : "the kernel's 'bus' method of %s is a bus reset, not allowed by the mask%s",
                                           dev->name, bit == PCRESET_SCOPE_SLOT ? strempty(dev->slot) : "");
                        continue;
                }
                if (link && !link_reset_possible(t, dev, m, bit, &why))
                        continue;

                *ret = (ResetPlan) {
                        .target = dev,
                        .scope = bit,
                        .kernel_method = m,
                        .mechanism = MECHANISM_KERNEL_METHOD,
                        .link = link,
                        .domain = planner_domain_of(dev),
                        .affected = { dev },
                        .n_affected = 1,
                };
                free(why.text);
                return 0;
        }

        _cleanup_free_ char *offered = strv_join(methods, " ");
        if (why.text)
                *ret_reason = strjoin_printf("no reset of %s inside mask %s can be done: %s (the kernel offers: %s)",
                                             dev->name, pcreset_scope_format(mask, mbuf, sizeof mbuf), why.text,
                                             strempty(offered));
        else
                *ret_reason = strjoin_printf("no reset of %s inside mask %s: the kernel offers only %s",
                                             dev->name, pcreset_scope_format(mask, mbuf, sizeof mbuf),
                                             strempty(offered));
        free(why.text);
        return -EOPNOTSUPP;
}

uint32_t planner_available_scopes(const Topology *t, PciDevice *dev, char *const *methods) {
        uint32_t avail = 0;

        for (uint32_t bit = 1; bit & PCRESET_SCOPE_KNOWN; bit <<= 1) {
                ResetPlan p;
                _cleanup_free_ char *reason = NULL;
                if (planner_plan(t, dev, bit, methods, &p, &reason) >= 0)
                        avail |= p.scope;
        }
        return avail;
}
