/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The pcresetd D-Bus contract, shared by the daemon and its clients.
 *
 * This header is the only thing a client needs from the project: bus names,
 * error names, polkit action ids and the scope bits. The scope and address
 * helpers in pcreset1.c are pure functions with no allocation.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRESET1_BUS_NAME          "org.freedesktop.pcreset1"
#define PCRESET1_OBJECT_PATH       "/org/freedesktop/pcreset1"
#define PCRESET1_MANAGER_INTERFACE "org.freedesktop.pcreset1.Manager"

#define PCRESET1_ERROR_NO_SUCH_DEVICE "org.freedesktop.pcreset1.Error.NoSuchDevice"
#define PCRESET1_ERROR_NOT_SUPPORTED  "org.freedesktop.pcreset1.Error.NotSupported"
#define PCRESET1_ERROR_DEVICE_BUSY    "org.freedesktop.pcreset1.Error.DeviceBusy"
#define PCRESET1_ERROR_RESET_FAILED   "org.freedesktop.pcreset1.Error.ResetFailed"
#define PCRESET1_ERROR_CANCELLED      "org.freedesktop.pcreset1.Error.Cancelled"
/* Another uid had the device and it was not reset since (handover). */
#define PCRESET1_ERROR_NEEDS_RESET    "org.freedesktop.pcreset1.Error.NeedsReset"

#define PCRESET1_ACTION_RESET "org.freedesktop.pcreset1.reset"
#define PCRESET1_ACTION_CLAIM "org.freedesktop.pcreset1.claim"

/* Scope bits: the first five are those of the original kernel proposal. */
enum {
        PCRESET_SCOPE_DEV_SPECIFIC = 0x01,
        PCRESET_SCOPE_FLR          = 0x02,
        PCRESET_SCOPE_PM           = 0x04,
        PCRESET_SCOPE_SLOT         = 0x08,
        PCRESET_SCOPE_BUS          = 0x10,
        PCRESET_SCOPE_ACPI         = 0x20,
        PCRESET_SCOPE_CXL_BUS      = 0x40,

        PCRESET_SCOPE_FUNC  = 0x27, /* DEV_SPECIFIC | FLR | PM | ACPI */
        PCRESET_SCOPE_LINK  = 0x58, /* SLOT | BUS | CXL_BUS */
        PCRESET_SCOPE_KNOWN = 0x7f,
        PCRESET_SCOPE_ANY   = 0xffffffffu,
};

/* Exit codes of pcresetctl, one per error class. */
enum {
        PCRESETCTL_EXIT_OK             = 0,
        PCRESETCTL_EXIT_FAILURE        = 1, /* anything not listed below */
        PCRESETCTL_EXIT_USAGE          = 2, /* bad command line or InvalidArgs */
        PCRESETCTL_EXIT_NO_SUCH_DEVICE = 3,
        PCRESETCTL_EXIT_NOT_SUPPORTED  = 4,
        PCRESETCTL_EXIT_BUSY           = 5,
        PCRESETCTL_EXIT_ACCESS_DENIED  = 6, /* AccessDenied, InteractiveAuthorizationRequired */
        PCRESETCTL_EXIT_RESET_FAILED   = 7,
        PCRESETCTL_EXIT_CANCELLED      = 8,
        PCRESETCTL_EXIT_LIMITS         = 9,
        PCRESETCTL_EXIT_NO_DAEMON      = 10, /* bus or daemon unreachable */
};

/* A PCI function address: domain, bus, device (0..31), function (0..7). */
typedef struct PciAddress {
        uint32_t domain;
        uint8_t bus;
        uint8_t dev;
        uint8_t func;
} PciAddress;

#define PCI_ADDRESS_STRLEN sizeof("0000:00:00.0") /* domains > 0xffff print longer */
#define PCI_ADDRESS_MAX 24

/* "DDDD:BB:DD.F" or "BB:DD.F" (domain 0), hex, case-insensitive, nothing
 * else (no spaces, no sign, no trailing bytes). Returns 0 or -EINVAL. */
int pci_address_parse(const char *s, PciAddress *ret);
/* Canonical lowercase "dddd:bb:dd.f" into buf (at least PCI_ADDRESS_MAX bytes). */
char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_MAX]);
bool pci_address_equal(const PciAddress *a, const PciAddress *b);

/* Kernel-facing names of single scope bits: "device_specific", "flr", "pm",
 * "slot", "bus", "acpi", "cxl_bus"; NULL for anything that is not one bit. */
const char *pcreset_scope_bit_name(uint32_t bit);
/* Validates a mask as the daemon accepts it: ANY, or non-zero with only
 * known bits. */
bool pcreset_scope_mask_valid(uint32_t mask);
/* Parses "flr,pm", "func", "link", "any", "0x27" or "39" into a mask.
 * Names are case-insensitive; returns 0 or -EINVAL. */
int pcreset_scope_parse(const char *s, uint32_t *ret);
/* Formats a mask as comma-separated bit names ("flr,pm"), "any" for ANY,
 * "none" for 0. Returns buf, truncated at size. */
char *pcreset_scope_format(uint32_t mask, char *buf, size_t size);
