/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The planner: (device, scope mask, the kernel's reset_method list) -> the one
 * reset that will run and every device it touches. Pure: reads the topology
 * snapshot it is given, writes nothing, never looks at ownership.
 *
 * Rules:
 *  - preference is the kernel's default order, least invasive first:
 *    device_specific, acpi, flr, af_flr, pm, bus, cxl_bus;
 *  - a method outside the mask is never chosen; a method the kernel does not
 *    list in reset_method is never chosen;
 *  - "bus" is SLOT when the device sits alone in a hotplug slot, BUS
 *    otherwise, decided from the topology (reset_method can be stale);
 *  - a link reset that would touch more than the target is refused with
 *    -EOPNOTSUPP for now, with the reason.
 */

#include <stdbool.h>
#include <stdint.h>

#include "topology.h"

typedef enum ResetMechanism {
        MECHANISM_KERNEL_METHOD, /* write the method to reset_method, 1 to reset */
} ResetMechanism;

#define PLAN_MAX_AFFECTED 256

typedef struct ResetPlan {
        PciDevice *target;
        uint32_t scope;              /* the single scope bit that will run */
        const char *kernel_method;   /* reset_method name to select */
        ResetMechanism mechanism;
        bool link;                   /* touches the link: excludes the domain's subtree */
        PciDevice *domain;           /* the bridge above target, or target on a root bus */
        PciDevice *affected[PLAN_MAX_AFFECTED];
        size_t n_affected;
} ResetPlan;

/* methods: the kernel's reset_method words, NULL when the kernel has no
 * reset_method file. Returns 0, or -EOPNOTSUPP with *ret_reason (malloc'ed)
 * saying why nothing inside the mask can be done. */
int planner_plan(const Topology *t, PciDevice *dev, uint32_t mask, char *const *methods,
                 ResetPlan *ret, char **ret_reason);

/* The scope bits this device can be reset with on its own now. */
uint32_t planner_available_scopes(const Topology *t, PciDevice *dev, char *const *methods);

/* Reset domain of a device: its upstream bridge, or itself on a root bus. */
PciDevice *planner_domain_of(PciDevice *dev);
