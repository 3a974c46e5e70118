/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "pciconfig.h"
#include "sbr.h"
#include "util.h"

#define CFG_COMMAND        0x04
#define CFG_STATUS         0x06
#define CFG_CACHE_LINE     0x0c
#define CFG_BAR0           0x10
#define CFG_INTERRUPT_LINE 0x3c
#define CFG_CAP_PTR        0x34
#define CFG_BRIDGE_CONTROL 0x3e
#define BRIDGE_CTL_BUS_RESET 0x40
#define STATUS_CAP_LIST    0x10

#define CAP_ID_PM   0x01
#define CAP_ID_EXP  0x10
#define PM_CTRL     0x04
#define EXP_FLAGS   0x02
#define EXP_DEVCTL  0x08
#define EXP_LNKCAP  0x0c
#define EXP_LNKCTL  0x10
#define EXP_LNKSTA  0x12
#define EXP_SLTCTL  0x18
#define EXP_RTCTL   0x1c
#define EXP_DEVCTL2 0x28
#define EXP_LNKCTL2 0x30
#define EXP_SLTCTL2 0x38
#define LNKCAP_DLLLARC 0x00100000u
#define LNKSTA_DLLLA   0x2000u


/* The registers we save and restore: header dwords a driverless device may
 * hold state in, and the control registers of the PM and PCIe capabilities,
 * each written back in the order the kernel's restore uses (BARs before
 * COMMAND, capabilities after the header). */
typedef struct Region {
        unsigned off;
        unsigned len;
} Region;

#define MAX_REGIONS 24

typedef struct Saved {
        uint8_t cfg[256];
        Region regions[MAX_REGIONS];
        size_t n_regions;
} Saved;

static void add_region(Saved *s, unsigned off, unsigned len) {
        if (s->n_regions < MAX_REGIONS && off + len <= sizeof s->cfg)
                s->regions[s->n_regions++] = (Region) { off, len };
}

static void plan_regions(Saved *s) {
        /* interrupt line down to BAR0, dword by dword, as pci_restore_config_space */
        for (int off = CFG_INTERRUPT_LINE; off >= CFG_BAR0; off -= 4)
                add_region(s, (unsigned) off, 4);
        add_region(s, CFG_CACHE_LINE, 2);       /* cache line size, latency timer */

        unsigned pm = pci_config_find_cap(s->cfg, CAP_ID_PM, PCI_PM_CAP_LEN);
        unsigned exp = pci_config_find_cap(s->cfg, CAP_ID_EXP, PCI_EXP_CAP_LEN);
        if (exp) {
                static const unsigned ctl[] = { EXP_DEVCTL, EXP_LNKCTL, EXP_SLTCTL, EXP_RTCTL,
                                                EXP_DEVCTL2, EXP_LNKCTL2, EXP_SLTCTL2 };
                bool v2 = (s->cfg[exp + EXP_FLAGS] & 0x0f) >= 2;
                for (size_t i = 0; i < ELEMENTSOF(ctl); i++)
                        if (ctl[i] < EXP_DEVCTL2 || v2)
                                add_region(s, exp + ctl[i], 2);
        }
        if (pm)
                add_region(s, pm + PM_CTRL, 2);
        add_region(s, CFG_COMMAND, 2);          /* last: decoding on once all else is back */
}

static int wait_link(const ConfigOps *ops, void *ud, const char *bridge, char **ret) {
        uint8_t cfg[256];
        int r = ops->read(ud, bridge, 0, cfg, sizeof cfg);
        if (r < 0)
                return set_errorf(ret, r, "cannot read the config of bridge %s: %s", bridge, strerror(-r));

        unsigned exp = pci_config_find_cap(cfg, CAP_ID_EXP, PCI_EXP_CAP_LEN);
        if (!exp) {
                ops->sleep_usec(ud, SBR_CONVENTIONAL_USEC);
                return 0;
        }
        uint32_t lnkcap = (uint32_t) cfg[exp + EXP_LNKCAP] | (uint32_t) cfg[exp + EXP_LNKCAP + 1] << 8 |
                          (uint32_t) cfg[exp + EXP_LNKCAP + 2] << 16 | (uint32_t) cfg[exp + EXP_LNKCAP + 3] << 24;
        if (lnkcap & LNKCAP_DLLLARC) {
                uint64_t deadline = ops->now_usec(ud) + SBR_LINK_TIMEOUT_USEC;
                for (;;) {
                        uint16_t sta;
                        r = ops->read(ud, bridge, exp + EXP_LNKSTA, &sta, sizeof sta);
                        if (r < 0)
                                return set_errorf(ret, r, "cannot read the link status of %s: %s", bridge, strerror(-r));
                        if (le16toh(sta) & LNKSTA_DLLLA)
                                break;
                        if (ops->now_usec(ud) >= deadline)
                                return set_errorf(ret, -ETIMEDOUT, "the link below %s did not come back within %u ms "
                                            "after the bus reset", bridge, SBR_LINK_TIMEOUT_USEC / 1000);
                        ops->sleep_usec(ud, SBR_LINK_POLL_USEC);
                }
        }
        ops->sleep_usec(ud, SBR_SETTLE_USEC);
        return 0;
}

/* Polls the id dword until the device answers: all-ones is no answer, a
 * vendor of 0x0001 is a Configuration Request Retry. */
static int wait_ready(const ConfigOps *ops, void *ud, const SbrDevice *d, uint64_t timeout, char **ret) {
        uint64_t deadline = ops->now_usec(ud) + timeout, delay = 1000;
        for (;;) {
                uint32_t id = 0xffffffffu;
                int r = ops->read(ud, d->name, 0, &id, sizeof id);
                id = le32toh(id);
                if (r >= 0 && id != 0xffffffffu && (id & 0xffff) != 0x0001)
                        return 0;
                if (ops->now_usec(ud) >= deadline)
                        return set_errorf(ret, -ETIMEDOUT, "%s did not answer within %llu ms after the bus reset "
                                    "(reads %08x)", d->name, (unsigned long long) (timeout / 1000), id);
                ops->sleep_usec(ud, delay);
                if (delay < 256000)
                        delay *= 2;   /* the kernel backs off too */
        }
}

int sbr_run(const ConfigOps *ops, void *ud, const char *bridge, const SbrDevice *devs, size_t n_devs,
            uint64_t ready_timeout_usec, char **ret_message) {
        _cleanup_free_ Saved *saved = calloc(n_devs ?: 1, sizeof(Saved));
        uint16_t ctl;
        int r;

        *ret_message = NULL;
        if (!saved)
                return -ENOMEM;

        /* 1. save, and refuse to start if anything is already odd */
        for (size_t i = 0; i < n_devs; i++) {
                r = ops->read(ud, devs[i].name, 0, saved[i].cfg, sizeof saved[i].cfg);
                if (r < 0)
                        return set_errorf(ret_message, r, "cannot save the config of %s: %s", devs[i].name, strerror(-r));
                uint16_t v = (uint16_t) (saved[i].cfg[0] | saved[i].cfg[1] << 8);
                uint16_t d = (uint16_t) (saved[i].cfg[2] | saved[i].cfg[3] << 8);
                if (v != devs[i].vendor_id || d != devs[i].device_id)
                        return set_errorf(ret_message, -EIO, "%s reads %04x:%04x before the reset, expected %04x:%04x",
                                    devs[i].name, v, d, devs[i].vendor_id, devs[i].device_id);
                plan_regions(&saved[i]);
        }

        /* 2. pulse Secondary Bus Reset */
        r = ops->read(ud, bridge, CFG_BRIDGE_CONTROL, &ctl, sizeof ctl);
        if (r < 0)
                return set_errorf(ret_message, r, "cannot read the bridge control of %s: %s", bridge, strerror(-r));
        ctl = le16toh(ctl);
        uint16_t on = htole16(ctl | BRIDGE_CTL_BUS_RESET), off = htole16(ctl & (uint16_t) ~BRIDGE_CTL_BUS_RESET);
        r = ops->write(ud, bridge, CFG_BRIDGE_CONTROL, &on, sizeof on);
        if (r < 0)
                return set_errorf(ret_message, r, "cannot assert Secondary Bus Reset on %s: %s", bridge, strerror(-r));
        ops->sleep_usec(ud, SBR_ASSERT_USEC);
        r = ops->write(ud, bridge, CFG_BRIDGE_CONTROL, &off, sizeof off);
        if (r < 0)
                /* the bus is held in reset: say so loudly, nothing below works */
                return set_errorf(ret_message, r, "cannot deassert Secondary Bus Reset on %s, the bus below it stays in "
                            "reset: %s", bridge, strerror(-r));

        /* 3. wait as the kernel does */
        r = wait_link(ops, ud, bridge, ret_message);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_devs; i++) {
                r = wait_ready(ops, ud, &devs[i], ready_timeout_usec, ret_message);
                if (r < 0)
                        return r;
        }

        /* 4. restore every device, then 5. check each is itself again */
        for (size_t i = 0; i < n_devs; i++)
                for (size_t k = 0; k < saved[i].n_regions; k++) {
                        const Region *g = &saved[i].regions[k];
                        r = ops->write(ud, devs[i].name, g->off, saved[i].cfg + g->off, g->len);
                        if (r < 0)
                                return set_errorf(ret_message, r, "cannot restore config offset 0x%02x of %s: %s", g->off,
                                            devs[i].name, strerror(-r));
                }
        for (size_t i = 0; i < n_devs; i++) {
                uint8_t id[4];
                r = ops->read(ud, devs[i].name, 0, id, sizeof id);
                uint16_t v = (uint16_t) (id[0] | id[1] << 8), d = (uint16_t) (id[2] | id[3] << 8);
                if (r < 0 || v != devs[i].vendor_id || d != devs[i].device_id)
                        return set_errorf(ret_message, -EIO, "%s did not come back after the bus reset: reads %04x:%04x, "
                                    "expected %04x:%04x", devs[i].name, v, d, devs[i].vendor_id, devs[i].device_id);
        }
        return 0;
}
