/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The PCI topology as the kernel shows it under <sysfs-root>: every function,
 * its upstream bridge, bridge bus ranges, hotplug slots and names from
 * pci.ids. Built with libpci (ids, class, from sysfs) plus sysfs links.
 *
 * Contract:
 *  - main thread only: it owns the one pci_access; workers get copies.
 *  - config space is not read: reading config of a device under reset
 *    blocks until the reset ends, and neither the start nor the bus loop
 *    may wait for someone else's reset. Everything comes from sysfs, but
 *    the multi-function bit of a function alone in a hotplug slot: one
 *    byte, once, when it first appears there.
 *  - what changes behind our back (driver, iommu group, vfio nodes,
 *    reset_method) is not cached here: read it live with the helpers below.
 */

#include <stdbool.h>
#include <stdint.h>

#include "pcreset1.h"

typedef struct PciDevice PciDevice;
struct PciDevice {
        PciAddress addr;
        char name[PCI_ADDRESS_MAX];   /* canonical "dddd:bb:dd.f" */
        uint16_t vendor_id;
        uint16_t device_id;
        uint32_t class;               /* base, sub, prog-if */
        bool is_bridge;               /* the kernel's pci_is_bridge() (sysfs secondary_bus_number) */
        bool multifunction;           /* as the kernel has it (topology.c derive_multifunction) */
        bool header_mf, header_mf_known; /* bit 7 of its header, when it had to be read */
        int secondary_bus;            /* bridges: from sysfs pci_bus/, -1 if none */
        bool has_reset_subordinate;   /* bridges: the kernel offers reset_subordinate */
        char *slot;                   /* physical slot name, NULL if none */
        bool hotplug_slot;            /* that slot has a hotplug controller */
        bool hotplug_port;            /* bridges: a hotplug driver (pciehp) serves the slot below it */
        char *syspath;                /* <sysfs>/devices/pci0000:00/.../dddd:bb:dd.f */
        char *relpath;                /* the part below devices/: ancestry by prefix */
        char *label;                  /* "Vendor Device" from pci.ids, NULL if unknown */
        PciDevice *parent;            /* upstream bridge; NULL on a root bus */
        PciDevice *physfn;            /* an SR-IOV VF's PF (sysfs physfn); NULL otherwise */
        unsigned n_vfs;               /* a PF's VFs in the topology now */
        PciDevice **vfs;              /* those VFs, in address order */
        PciDevice **below;            /* everything below this bridge at any depth, in address order */
        size_t n_below;               /* (both lists are the topology's, rebuilt at each rescan) */
        size_t index;                 /* position in the topology (address order) since the last rescan */
        bool reused;                  /* private to rescans */
};

typedef struct Topology Topology;

int topology_new(const char *sysfs_root, Topology **ret);
Topology *topology_free(Topology *t);
/* Cheap when nothing changed (one readdir); rescans otherwise. *ret_changed
 * may be NULL. */
int topology_refresh(Topology *t, bool *ret_changed);
/* Forces a full rescan on the next refresh (uevents say something changed). */
void topology_invalidate(Topology *t);

size_t topology_count(const Topology *t);
PciDevice *topology_get(const Topology *t, size_t i); /* sorted by address */
PciDevice *topology_find(const Topology *t, const PciAddress *a);
const char *topology_sysfs_root(const Topology *t);

/* Functions sharing dev's bus (same parent and bus number), dev excluded. */
size_t topology_bus_siblings(const Topology *t, const PciDevice *dev, PciDevice **ret, size_t max);
/* Everything below bridge at any depth, in address order (the hot-reset
 * set of a bus reset through it): fills up to max, returns how many there
 * are. O(that many): the subtrees are built at (re)scan. */
size_t topology_below(const Topology *t, const PciDevice *bridge, PciDevice **ret, size_t max);
/* true if dev sits below bridge (at any depth). */
bool pci_device_is_below(const PciDevice *dev, const PciDevice *bridge);
/* A PF's VFs, in address order; returns how many there are. */
size_t topology_vfs(const Topology *t, const PciDevice *pf, PciDevice **ret, size_t max);

/* Live reads. driver: *ret NULL when unbound. group: -ENOENT when none. */
int pci_device_read_driver(const PciDevice *d, char **ret);
int pci_device_read_iommu_group(const PciDevice *d, int *ret);
/* The VFIO cdev name ("vfio3") of a device bound to vfio-pci, -ENOENT if none. */
int pci_device_read_vfio_cdev(const PciDevice *d, char **ret);
