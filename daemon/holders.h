/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Holders: which processes hold a VFIO group or device open, from one pass
 * over <proc>.
 *
 * Promises:
 *  - every task's fd table is read (<proc>/PID/task/TID/fd): a thread that
 *    unshared its fd table is seen;
 *  - nodes are matched by device number (statx of the fd, which follows it
 *    to the inode it opened, without asking a network or FUSE file system
 *    to revalidate), then identified through <sysfs>/dev/char: whatever path
 *    the node was opened by (deleted, a private mknod, a bind mount in a
 *    container) it is found;
 *  - an O_PATH fd is no holder (it cannot use the device);
 *  - a VFIO device fd (anon_inode:[vfio-device]) is a holder of the device
 *    its fdinfo names (vfio-device-syspath:, newer kernels); where the
 *    kernel names none, of every device bound to a stub driver;
 *  - a VFIO device region mapped into a process (/proc/PID/maps shows
 *    anon_inode:[vfio-device]) holds its device even after the fd is
 *    closed: such a process may hold every device bound to a stub driver;
 *  - it fails closed: an fd table it cannot read makes its process a
 *    possible holder of every device bound to a stub driver;
 *  - the daemon itself (on the real /proc) is no holder: the fds a caller
 *    passes as proof sit in its table while it decides.
 * Reads only; safe on any thread.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "vfio-node.h"

/* In order of how surely the holder has the device. */
typedef enum HolderKind {
        HOLDER_NODE,              /* an fd on the device's VFIO group or cdev */
        HOLDER_DEVICE_FD,         /* a VFIO device fd whose fdinfo names the device */
        HOLDER_DEVICE_FD_UNNAMED, /* a VFIO device fd the kernel does not name */
        HOLDER_UNREADABLE,        /* a fd table that could not be read */
} HolderKind;

typedef struct Holder {
        HolderKind kind;
        pid_t pid;
        uid_t uid;                /* the process' effective uid, (uid_t) -1 if unknown */
        VfioNode node;            /* HOLDER_NODE */
        char *device;             /* HOLDER_DEVICE_FD: the address fdinfo names */
        int error;                /* HOLDER_UNREADABLE: the errno */
} Holder;

typedef struct Holders Holders;

/* One thread, in the order <proc> lists processes (by pid), reading it as
 * it goes: a holder that hands its fd to a child it forks during the scan
 * and closes its own copy is met in the child (a higher pid), unless the
 * listing had already ended. The last check before a reset (executor.h). */
int holders_scan(const char *proc_root, const char *sysfs_root, Holders **ret);
/* The scan for answers and first decisions (scanner.h): gives up with
 * -ECANCELED (between processes) once *cancel is set from another thread
 * (the daemon stops, and a scan a hostile user made slow must not hold it
 * up); on a big <proc> (256+ processes) with a second CPU, two threads take
 * the processes in turn, so a handoff to a process the other thread
 * already read may be missed: holders_scan() before the reset catches it. */
int holders_scan_cancellable(const char *proc_root, const char *sysfs_root, const bool *cancel, Holders **ret);
Holders *holders_free(Holders *h);
static inline void holders_freep(Holders **h) {
        holders_free(*h);
}

/* The first holder of a device (group: its IOMMU group number or -1; cdev:
 * "vfio3" or NULL; stub_bound: bound to vfio-pci or the like) that is not
 * of uid except_uid ((uid_t) -1: any uid counts). Exact holders (the node,
 * a named device fd) come before possible ones. NULL if none. */
const Holder *holders_find(const Holders *h, const char *name, long group, const char *cdev, bool stub_bound,
                           uid_t except_uid);
/* Whether any holder holds a VFIO group or cdev node: only such a holder
 * needs holders_find() to be given the device's group and cdev. */
bool holders_any_node(const Holders *h);
/* From <proc>/PID/status, one read: the process' name (*ret_name may be
 * NULL) and effective uid ((uid_t) -1 if unknown). ret_name may be NULL. */
int holders_process_status(const char *proc_root, pid_t pid, char **ret_name, uid_t *ret_uid);
/* Number of fd tables read, for the benchmarks' "one pass" check. */
unsigned holders_n_tables(const Holders *h);
/* Number of holders found (each process once per device or node it holds). */
size_t holders_n(const Holders *h);
