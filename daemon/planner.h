/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The planner: (device, scope mask, the kernel's reset_method list) -> the one
 * reset that will run, how, and every device it touches. It writes nothing
 * and never decides ownership; it asks the environment only whether a device
 * is quiet (see below).
 *
 * Rules:
 *  - preference is the kernel's default order, least invasive first:
 *    device_specific, acpi, flr/af_flr, pm, then the link (slot/bus), cxl_bus;
 *  - a method outside the mask is never chosen; a function-level method the
 *    kernel does not list in reset_method is never chosen;
 *  - a function-level reset touches the function, and: everything below it
 *    when it is a bridge; every VF when it is an SR-IOV PF (its FLR clears
 *    VF Enable). A VF's own function reset touches only that VF;
 *  - a link reset touches everything below the parent bridge (VFIO's
 *    hot-reset set). The mechanism, in this order:
 *      1. the device alone below its bridge: the kernel's "bus" method, which
 *         is SLOT in a hotplug slot and BUS elsewhere (decided from the
 *         topology: reset_method can be stale);
 *      2. several devices, bridge not a hotplug port: reset_subordinate on
 *         the bridge (the kernel saves, restores and tells every driver);
 *      3. otherwise a userspace secondary bus reset, only when every affected
 *         device is quiet (no driver, or a stub no one holds open) and none
 *         is a bridge, and the bridge is not a hotplug port;
 *      4. otherwise -EOPNOTSUPP, with the reason.
 *    Several devices below a hotplug port are never reset (decided from the
 *    port, whatever the target's function or slot): the kernel gives
 *    userspace no slot reset of a whole slot, and a raw bus reset there looks
 *    like a surprise removal to pciehp. The userspace bus reset never
 *    touches SR-IOV functions (it cannot restore VF Enable).
 */

#include <stdbool.h>
#include <stdint.h>

#include "topology.h"

typedef enum ResetMechanism {
        MECHANISM_KERNEL_METHOD,      /* write the method to reset_method, 1 to reset */
        MECHANISM_RESET_SUBORDINATE,  /* write 1 to the bridge's reset_subordinate */
        MECHANISM_USERSPACE_SBR,      /* pulse Secondary Bus Reset ourselves, save/restore all */
        _MECHANISM_MAX,
} ResetMechanism;

const char *reset_mechanism_to_string(ResetMechanism m);

#define PLAN_MAX_AFFECTED 256

typedef struct PlannerEnv {
        bool use_reset_subordinate;     /* [Reset] UseResetSubordinate= */
        bool allow_userspace_sbr;       /* [Reset] UserspaceBusReset= */
        /* No driver, or a stub driver nobody holds open? If not, *why says
         * what it is bound to ("bound to snd_hda_intel"). NULL: never quiet. */
        bool (*quiet)(void *userdata, const PciDevice *d, char **why);
        void *userdata;
} PlannerEnv;

typedef struct ResetPlan {
        PciDevice *target;
        uint32_t scope;              /* the single scope bit that will run */
        const char *kernel_method;   /* reset_method name for MECHANISM_KERNEL_METHOD, else NULL */
        ResetMechanism mechanism;
        bool link;                   /* touches the link: excludes the domain's subtree */
        PciDevice *bridge;           /* the bridge a link reset goes through, else NULL */
        PciDevice *domain;           /* the bridge above target, or target on a root bus */
        PciDevice *affected[PLAN_MAX_AFFECTED];
        size_t n_affected;
} ResetPlan;

/* methods: the kernel's reset_method words, NULL when the kernel has no
 * reset_method file. env may be NULL (defaults: reset_subordinate yes, no
 * userspace bus reset). Returns 0, or -EOPNOTSUPP with *ret_reason
 * (malloc'ed) saying why nothing inside the mask can be done. */
int planner_plan(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods, const PlannerEnv *env,
                 ResetPlan *ret, char **ret_reason);

/* The scope bits this device can be reset with now. */
uint32_t planner_available_scopes(const Topology *t, PciDevice *dev, char *const *methods, const PlannerEnv *env);

/* Reset domain of a device: its upstream bridge, or itself on a root bus. */
PciDevice *planner_domain_of(PciDevice *dev);
