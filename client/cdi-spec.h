/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The CDI spec (Container Device Interface) of the host's VFIO nodes, for
 * pcresetctl cdi. cdi_scan() reads <dev>/vfio (group nodes N, the container
 * node vfio), <dev>/vfio/devices (cdevs vfioX) and <dev>/iommu, and names
 * each node's functions from sysfs (common/vfio-node.h, the mapping the
 * hook and the daemon use); nothing is opened. cdi_spec_build() turns that
 * into the spec's JSON:
 *
 *   kind  pcreset.freedesktop.org/vfio
 *   group-N            one per group node: /dev/vfio/N and /dev/vfio/vfio
 *   pci-DDDD:BB:DD.F   one per cdev: /dev/vfio/devices/vfioX and /dev/iommu
 *
 * each device with the hooks createRuntime (before the container runs) and
 * poststop (after it stopped) calling `pcresetctl oci-hook --node=PATH`
 * with the scope and required policy, so every device resets exactly what
 * its own node covers. cdiVersion 0.3.0: the lowest that today's engines
 * (containerd 2.x, CRI-O, Docker, podman) still accept, and all the spec
 * uses (deviceNodes with type and numbers, hooks) is in it; device names
 * start with a letter, which 0.3.0 wants.
 */

#include <stdbool.h>
#include <stddef.h>

#include "vfio-node.h"

#define CDI_VERSION   "0.3.0"
#define CDI_KIND      "pcreset.freedesktop.org/vfio"
/* the file name CDI's own tools give a kind's spec: vendor-class.json */
#define CDI_SPEC_FILE "pcreset.freedesktop.org-vfio.json"

/* A character device: where the container sees it, and its number. */
typedef struct CdiDevNode {
        char *path;             /* /dev/vfio/12: the container's path, and the host's below /dev */
        char *host_path;        /* the host's, when not path (--dev-root) */
        unsigned major, minor;  /* for identifying it, never written into a spec */
} CdiDevNode;

typedef struct CdiNode {
        VfioNode node;
        CdiDevNode dev;
        char **devices;         /* the PCI functions it covers, sorted */
} CdiNode;

typedef struct CdiHost {
        CdiNode *nodes;         /* groups by number, then cdevs by function */
        size_t n_nodes;
        CdiDevNode container;   /* /dev/vfio/vfio; path NULL when absent */
        CdiDevNode iommu;       /* /dev/iommu (iommufd, for cdevs); likewise */
} CdiHost;

/* What the hooks run with. */
typedef struct CdiHookConfig {
        const char *path;         /* pcresetctl, absolute */
        const char *scope;        /* --scope's value */
        bool required;
        const char *sysfs_root;   /* NULL: the hook's default */
        const char *dev_root;     /* NULL: likewise */
        const char *bus_address;  /* DBUS_SYSTEM_BUS_ADDRESS for the hook, or NULL */
} CdiHookConfig;

/* Scans <dev_root>/vfio. A directory that does not exist is no node; a
 * node sysfs knows nothing of is left out (and reported on stderr), as is
 * a noiommu group, which the hook never resets. -errno only for what
 * makes the scan itself fail (out of memory, an unreadable directory). */
int cdi_scan(const char *sysfs_root, const char *dev_root, CdiHost *ret);
void cdi_host_done(CdiHost *h);

/* The spec as JSON text, newline-terminated; *ret NULL when the host has no
 * node (a CDI spec without devices is invalid). */
int cdi_spec_build(const CdiHost *h, const CdiHookConfig *cfg, char **ret);

/* A device's CDI name: "group-12", "pci-0000:02:00.1". */
char *cdi_device_name(const CdiNode *n);
