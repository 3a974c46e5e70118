/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Ownership rules (mirroring VFIO's hot reset): a device a reset touches is
 *  - owned by the caller: claimed by the caller's uid, or its VFIO group node
 *    (<dev>/vfio/N) or VFIO cdev node (<dev>/vfio/devices/vfioX) belongs to
 *    that uid, or the caller proved it for this call with an open VFIO fd
 *    (vfioproof.h) - AND no process of another uid holds it (holders.h): a
 *    claim or a node's owner never overrides someone else's open handle. A
 *    root-owned node proves nothing (every node is root's by default), so
 *    root owns devices through claims or fds only;
 *  - idle: no driver, or a stub driver (config_is_stub_driver) that no
 *    process holds (or may hold: holders.h fails closed);
 *  - busy otherwise, including a device claimed by another uid.
 * A PCI-to-PCI bridge bound to pcieport (or nothing) is idle: it only passes
 * a reset through (the reset keeps its config intact).
 * An owned device still bound to a host driver is reset under that driver:
 * the verdict says so.
 * Who holds or claimed a device (pids, command names, uids) is told only to
 * root and to that same uid; others read "another user's process".
 * Reads only; safe on any thread (no libpci, no topology pointers: devices
 * are passed by name and sysfs path).
 */

#include <stdbool.h>
#include <sys/types.h>

#include "claims.h"
#include "config.h"
#include "holders.h"

typedef enum DeviceState {
        DEVICE_OWNED,
        DEVICE_IDLE,
        DEVICE_BUSY,
} DeviceState;

const char *device_state_to_string(DeviceState s);

typedef struct OwnershipContext {
        const char *sysfs_root;
        const char *dev_root;
        const char *proc_root;
        const Config *config;
        Claims *claims;
        bool no_scan;        /* a scan is needed and none was given: -EAGAIN (the bus loop never scans) */
} OwnershipContext;

/* Why a device is busy. */
typedef enum DeviceBlocker {
        BLOCKER_NONE,
        BLOCKER_HOST_DRIVER,   /* bound to a host driver, not the caller's */
        BLOCKER_HOLDER,        /* a process holds (or may hold) it open */
        BLOCKER_CLAIM,         /* claimed by another uid */
} DeviceBlocker;

typedef struct DeviceVerdict {
        DeviceState state;
        DeviceBlocker blocker;
        char *reason;        /* for a person: "bound to e1000e", "vfio group 12 open by pid 4711 (qemu)" */
        char *driver;        /* NULL when unbound */
        bool under_driver;   /* owned, but a host driver is bound */
} DeviceVerdict;

void device_verdict_done(DeviceVerdict *v);

/* Whether viewer may be told what uid who holds or claimed (root and who
 * only), and "uid 4101 (alice)" for the telling. */
bool ownership_may_see(uid_t viewer, uid_t who);
char *ownership_describe_uid(uid_t uid);

/* What a device's sysfs tells about who may use it: its driver, IOMMU group
 * and VFIO cdev. Each is read live, when a verdict first needs it (the
 * group and cdev only for a claim, a non-root caller's node, or a holder of
 * a VFIO node to match), and at most once: one DeviceFacts serves one
 * decision or one call, never longer. syspath is borrowed. */
typedef struct DeviceFacts {
        const char *syspath;
        int dirfd;              /* the caller's open directory holding the device's (-1: none) */
        const char *relname;    /* the device's directory below dirfd */
        bool have_driver, have_group, have_cdev;
        char *driver;   /* NULL when unbound */
        char *group;    /* IOMMU group number, NULL if none */
        char *cdev;     /* "vfio3" when a VFIO cdev exists */
} DeviceFacts;

void device_facts_init(DeviceFacts *f, const char *syspath);
/* Reads through dirfd (kept open by the caller while f lives) with
 * relname: a short lookup instead of a walk of syspath; a lookup that
 * fails there is asked again by syspath, so the facts are the same. */
void device_facts_init_at(DeviceFacts *f, int dirfd, const char *relname, const char *syspath);
/* The driver (NULL: unbound) as the caller read it during this call, from
 * the drivers' side; f does not read the device's own link then. */
int device_facts_set_driver(DeviceFacts *f, const char *driver);
void device_facts_done(DeviceFacts *f);

/* *holders may be NULL on entry: the one /proc pass of a request is made
 * by the first device that needs it, and shared by the others. */

/* Quiet: no driver, or a stub driver nobody holds or may hold - the only
 * devices a userspace bus reset may touch. *why says what the device is
 * bound to or who holds it when not, as viewer may be told. */
int ownership_device_quiet(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t viewer,
                           Holders **holders, bool *ret, char **why);

/* The non-root uid the device's VFIO group or cdev node belongs to: 1 with
 * *ret, or 0 when root's (the default) or there is no node. */
int ownership_node_owner(const OwnershipContext *ctx, const char *syspath, uid_t *ret);

/* The verdict for uid. proven: addresses the caller proved with VFIO fds
 * for this call (may be NULL). */
int ownership_evaluate(const OwnershipContext *ctx, const char *name, const char *syspath, uid_t uid,
                       char *const *proven, Holders **holders, DeviceVerdict *ret);

/* The same two on facts shared by several questions about one device
 * inside one call (decision.h), instead of facts read for this one. */
int ownership_device_quiet_facts(const OwnershipContext *ctx, const char *name, DeviceFacts *f, uid_t viewer,
                                 Holders **holders, bool *ret, char **why);
int ownership_evaluate_facts(const OwnershipContext *ctx, const char *name, DeviceFacts *f, uid_t uid,
                             char *const *proven, Holders **holders, DeviceVerdict *ret);
