/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Config space: the capability walk every reader shares (pure, on 256
 * bytes), and access through libpci for the executor's worker threads:
 * each PciConfig owns its own pci_access (libpci's caches are not thread
 * safe), pointed at <sysfs-root> like the topology's, with an error handler
 * that turns libpci's fatal errors into -EIO instead of exit().
 */

#include <stddef.h>
#include <stdint.h>

#include "sbr.h"

typedef struct PciConfig PciConfig;

/* Config space is little endian. */
static inline uint16_t pci_config_le16(const uint8_t *cfg, unsigned off) {
        return (uint16_t) (cfg[off] | cfg[off + 1] << 8);
}
static inline uint32_t pci_config_le32(const uint8_t *cfg, unsigned off) {
        return (uint32_t) pci_config_le16(cfg, off) | (uint32_t) pci_config_le16(cfg, off + 2) << 16;
}

int pci_config_new(const char *sysfs_root, PciConfig **ret);
PciConfig *pci_config_free(PciConfig *c);

/* ConfigOps over a PciConfig (the userdata); real sleeps and clock. */
extern const ConfigOps pci_config_ops;

/* Offset of a standard capability, walking the list with a bound (loops and
 * wild pointers in a broken device's config space end the walk). A
 * capability whose first len bytes would not fit in the 256 bytes is not
 * found: callers read its registers without further checks. 0 if not
 * found. cfg must hold 256 bytes. */
unsigned pci_config_find_cap(const uint8_t cfg[static 256], uint8_t id, unsigned len);

/* Offset of an extended capability (at 0x100 and up) in the len bytes of
 * cfg (256 for a conventional device or an unprivileged read: none), with
 * the same bound on loops and wild pointers; a capability whose first
 * cap_len bytes would not fit in len is not found. 0 if not found. */
unsigned pci_config_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id, unsigned cap_len);

/* Bytes of the capability registers read: PCIe up to Slot Control 2, PM up
 * to PMCSR. */
#define PCI_EXP_CAP_LEN 0x3a
#define PCI_PM_CAP_LEN  0x06
/* AER up to the Correctable Error Mask */
#define PCI_AER_CAP_LEN 0x18
