/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * VFIO nodes and the PCI functions behind them, read from sysfs only (no
 * /proc/devices, which a sandboxed daemon may not see). Shared by the
 * daemon's fd proof and the client's OCI hook, so both map a node to the
 * same devices.
 *
 *  - a group node (/dev/vfio/N, or noiommu-N) covers every function of
 *    IOMMU group N (<sysfs>/kernel/iommu_groups/N/devices);
 *  - a cdev (/dev/vfio/devices/vfioX) covers the one function that has
 *    vfio-dev/vfioX;
 *  - the container (/dev/vfio/vfio) and anything else is not a VFIO node.
 * A character device number is identified by <sysfs>/dev/char/MAJ:MIN,
 * which leads to .../virtual/vfio/N for a group and to
 * .../dddd:bb:dd.f/vfio-dev/vfioX for a cdev. Nothing here opens a node.
 */

#include <stdbool.h>

#include "pcreset1.h"

typedef enum VfioNodeKind {
        VFIO_NODE_GROUP,
        VFIO_NODE_CDEV,
} VfioNodeKind;

typedef struct VfioNode {
        VfioNodeKind kind;
        long group;                    /* GROUP: the IOMMU group number */
        bool noiommu;                  /* GROUP: vfio's made-up group of a device without an IOMMU */
        char cdev[16];                 /* CDEV: "vfio3" */
        char device[PCI_ADDRESS_MAX];  /* CDEV: the function, "" when identified by name only */
} VfioNode;

/* Which node character device maj:min is. 0; -ENOENT when sysfs has no such
 * device number; -EMEDIUMTYPE when it is a character device but not a VFIO
 * group or cdev (the container, a tty, ...). */
int vfio_node_from_devnum(const char *sysfs_root, unsigned maj, unsigned min, VfioNode *ret);

/* Which node a path below /dev/vfio names: "12", "noiommu-0",
 * "devices/vfio3". -EINVAL for anything else ("vfio", the container). */
int vfio_node_from_name(const char *name, VfioNode *ret);

/* The same node: the same group (noiommu or not), or the same cdev. */
bool vfio_node_equal(const VfioNode *a, const VfioNode *b);

/* Appends the canonical addresses of the functions the node covers to
 * *devices (NULL-terminated, sorted, no duplicates). -ENOENT when sysfs
 * has no such group or cdev. */
int vfio_node_devices(const char *sysfs_root, const VfioNode *n, char ***devices);
