/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The executor: performs one planned reset on a worker thread.
 *
 *  1. re-checks ownership of every affected device (it may have changed
 *     while the request was queued);
 *  2. runs the planned mechanism:
 *     - a kernel method: narrows the device's reset_method to the planned
 *       method (reset-method.h: recorded first, given back always), writes
 *       1 to reset;
 *     - reset_subordinate: writes 1 to the bridge's attribute;
 *     - a userspace bus reset (sbr.c), after checking again that every
 *       affected device is quiet, through its own libpci handle;
 *  3. verifies every affected device came back (present, answers config
 *     reads with its own vendor/device ids) and that a link that was up
 *     above the target is up again;
 *  4. reports their health (health.h): each link's speed and width and each
 *     AER Uncorrectable Error Status, compared with what they were before.
 *     A degraded link is a warning, or a failure with require_same_link.
 * It knows nothing of D-Bus or polkit.
 */

#include <stdint.h>
#include <sys/types.h>

#include "health.h"
#include "ownership.h"
#include "planner.h"

typedef struct ExecContext {
        const char *sysfs_root;
        const char *state_dir;
        OwnershipContext ownership;
        uint64_t ready_timeout_usec;  /* userspace bus reset: how long a device may take to answer */
        bool require_same_link;       /* a degraded link fails the reset ([Reset] RequireSameLink=) */
        uint64_t link_settle_usec;    /* how long a slow or training link is read again; 0: 1 s */
} ExecContext;

typedef struct ExecDevice {
        char name[PCI_ADDRESS_MAX];
        char *syspath;
        uint16_t vendor_id, device_id;
} ExecDevice;

/* A plan copied out of the topology, so a worker can use it while the loop
 * rescans. */
typedef struct ExecRequest {
        ExecDevice target;
        uint32_t scope;
        const char *kernel_method;   /* static string from the planner */
        ResetMechanism mechanism;
        ExecDevice *affected;
        size_t n_affected;
        ExecDevice bridge;           /* the target's upstream bridge; name "" on a root bus */
        uid_t uid;
        char **proven;               /* devices the caller proved with VFIO fds */
} ExecRequest;

int exec_request_from_plan(const ResetPlan *plan, uid_t uid, char *const *proven, ExecRequest *ret);
void exec_request_done(ExecRequest *r);

typedef enum ExecStatus {
        EXEC_OK,
        EXEC_BUSY,       /* ownership changed while queued */
        EXEC_GONE,       /* the device disappeared */
        EXEC_FAILED,     /* the kernel refused or the device did not come back */
} ExecStatus;

typedef struct ExecResult {
        ExecStatus status;
        int error;       /* errno of a failed write, 0 otherwise */
        char *message;   /* for a person, names the device */
        uint64_t started_usec; /* CLOCK_REALTIME when the reset itself began, 0 if it did not */
        uint64_t usec;   /* time of the reset itself */
        HealthReport health; /* devices NULL unless the reset ran and every device came back */
} ExecResult;

void exec_result_done(ExecResult *r);

void executor_run(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret);

/* At start: clears Secondary Bus Reset left asserted on any of bridges (a
 * crash in the middle of a userspace bus reset, whose record is in
 * <state>/inflight-sbr/). Returns the number cleared. */
int executor_repair_sbr(const ExecContext *ctx, char *const *bridges);

