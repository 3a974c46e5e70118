/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The VFIO watch: hears, through inotify, every open and last close of the
 * host's VFIO nodes (<dev>/vfio/N, <dev>/vfio/devices/vfioX) and every node
 * that appears or goes, so a /proc scan (holders.h) can be trusted for as
 * long as none happened: an informational call then costs O(devices), not
 * O(processes x fds).
 *
 * Why inotify and not fanotify: a fanotify event without FAN_REPORT_FID
 * carries an fd that the kernel opens on the file, and opening a VFIO group
 * node opens the group (exclusively, on 6.1: QEMU would get EBUSY); with
 * FAN_REPORT_FID, devtmpfs must report an fsid, which tmpfs does only on
 * newer kernels. inotify opens nothing and hears the same open and close.
 *
 * What it cannot hear (so a trusted scan still has an age limit, and a
 * reset always decides on a fresh scan): a node opened by another inode
 * (a private mknod in a container's /dev), an fd passed to another process
 * or uid, a holder's exit or setuid. Every error counts as a change.
 * Loop thread only.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct VfioWatch VfioWatch;

/* -errno if inotify is unavailable: the caller runs without a watch. */
int vfio_watch_new(const char *dev_root, VfioWatch **ret);
VfioWatch *vfio_watch_free(VfioWatch *w);

/* Watches the nodes there are now and returns the stamp a scan starting
 * now is valid from. */
uint64_t vfio_watch_stamp(VfioWatch *w);
/* true if a node may have been opened, closed, created or removed since
 * stamp. Reads what is pending first: an open that returned before this
 * call is never missed. */
bool vfio_watch_changed_since(VfioWatch *w, uint64_t stamp);
