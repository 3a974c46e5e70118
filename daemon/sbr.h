/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A secondary bus reset done from userspace, the way the kernel does it but
 * for a whole set of devices: save every affected device's writable config,
 * pulse Secondary Bus Reset in the parent bridge's Bridge Control, wait for
 * the link and for each device to answer, restore every device, and check
 * each answers with its own ids.
 *
 * Only ever used when nothing can notice: every affected device driverless
 * or stub-bound and not open, none a bridge, the bridge not a hotplug port
 * (the planner guarantees it). Config space is reached through ConfigOps so
 * the sequence is testable against a recording fake; the daemon's ops use
 * libpci, with one pci_access per worker thread.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct ConfigOps {
        /* Read/write len bytes at off of device dev; 0 or -errno. */
        int (*read)(void *userdata, const char *dev, unsigned off, void *buf, size_t len);
        int (*write)(void *userdata, const char *dev, unsigned off, const void *buf, size_t len);
        void (*sleep_usec)(void *userdata, uint64_t usec);
        uint64_t (*now_usec)(void *userdata);
} ConfigOps;

/* What the kernel waits, from pci.c and the PCIe spec. */
#define SBR_ASSERT_USEC          2000u      /* Trst >= 1 ms; the kernel holds 2 ms */
#define SBR_SETTLE_USEC          100000u    /* after the link is up, before config requests */
#define SBR_CONVENTIONAL_USEC    1000000u   /* conventional PCI: Trhfa */
#define SBR_LINK_TIMEOUT_USEC    1000000u   /* Data Link Layer Link Active */
#define SBR_LINK_POLL_USEC       10000u

typedef struct SbrDevice {
        const char *name;
        uint16_t vendor_id, device_id;
} SbrDevice;

/* 0, or -errno with *ret_message (malloc'ed) naming the device and step. */
int sbr_run(const ConfigOps *ops, void *userdata, const char *bridge, const SbrDevice *devs, size_t n_devs,
            uint64_t ready_timeout_usec, char **ret_message);
