/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Ownership rules (mirroring VFIO's hot reset): a device a reset touches is
 *  - owned by the caller: claimed by the caller's uid, or its VFIO group node
 *    (<dev>/vfio/N) or VFIO cdev node (<dev>/vfio/devices/vfioX) belongs to
 *    that uid, or the caller proved it for this call with an open VFIO fd
 *    (vfioproof.h). A root-owned node proves nothing (every node is root's
 *    by default), so root owns devices through claims or fds only;
 *  - idle: no driver, or a stub driver (config_is_stub_driver) whose VFIO
 *    nodes no process holds open (<proc>/PID/fd links read as text);
 *  - busy otherwise, including a device claimed by another uid.
 * A PCI-to-PCI bridge bound to pcieport (or nothing) is idle: it only passes
 * a reset through (the reset keeps its config intact).
 * An owned device still bound to a host driver is reset under that driver:
 * the verdict says so. Reads only; safe on any thread (no libpci, no
 * topology pointers: devices are passed by name and sysfs path).
 */

#include <stdbool.h>
#include <sys/types.h>

#include "claims.h"
#include "config.h"

typedef enum DeviceState {
        DEVICE_OWNED,
        DEVICE_IDLE,
        DEVICE_BUSY,
} DeviceState;

const char *device_state_to_string(DeviceState s);

typedef struct OwnershipContext {
        const char *dev_root;
        const char *proc_root;
        const Config *config;
        Claims *claims;
} OwnershipContext;

typedef struct DeviceVerdict {
        DeviceState state;
        char *reason;        /* for a person: "bound to e1000e", "vfio group 12 open by pid 4711 (qemu)" */
        char *driver;        /* NULL when unbound */
        bool under_driver;   /* owned, but a host driver is bound */
} DeviceVerdict;

void device_verdict_done(DeviceVerdict *v);

/* Who holds VFIO nodes open: one pass over <proc>/PID/fd per request,
 * made lazily by the first device that needs it. */
typedef struct OpenHandles OpenHandles;
OpenHandles *open_handles_free(OpenHandles *h);

/* Quiet: no driver, or a stub driver whose VFIO nodes nobody holds open -
 * the only devices a userspace bus reset may touch. *why says what the
 * device is bound to or who holds it when not. */
int ownership_device_quiet(const OwnershipContext *ctx, const char *syspath, OpenHandles **handles, bool *ret,
                           char **why);

/* *handles may be NULL on entry; it is filled when a scan was needed.
 * proven: addresses the caller proved with VFIO fds for this call (may be
 * NULL). */
int ownership_evaluate(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t uid,
                       char *const *proven, OpenHandles **handles, DeviceVerdict *ret);
