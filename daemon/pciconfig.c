/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <time.h>

#include "pciaccess.h"
#include "pciconfig.h"
#include "pcreset1.h"
#include "util.h"

struct PciConfig {
        struct pci_access *pacc;
};

int pci_config_new(const char *sysfs_root, PciConfig **ret) {
        PciConfig *c = calloc(1, sizeof *c);
        jmp_buf jb;

        if (!c || !(c->pacc = pci_access_new(sysfs_root, true))) {
                free(c);
                return -ENOMEM;
        }
        pci_guard(&jb);
        if (setjmp(jb) != 0) {
                pci_unguard();
                pci_config_free(c);
                return -EIO;
        }
        pci_init(c->pacc);
        pci_unguard();
        *ret = c;
        return 0;
}

PciConfig *pci_config_free(PciConfig *c) {
        if (!c)
                return NULL;
        pci_cleanup(c->pacc);
        free(c);
        return NULL;
}

/* pci_get_dev() hands out a new struct each time; libpci frees the ones it
 * scanned, ours we free after use. */
static int config_io(PciConfig *c, const char *dev, unsigned off, void *buf, size_t len, bool write) {
        PciAddress a;
        jmp_buf jb;
        struct pci_dev *volatile pd = NULL;
        volatile int r = -EIO;

        if (pci_address_parse(dev, &a) < 0 || off + len > 4096)
                return -EINVAL;
        pci_guard(&jb);
        if (setjmp(jb) == 0) {
                pd = pci_get_dev(c->pacc, (int) a.domain, a.bus, a.dev, a.func);
                if (pd) {
                        int ok = write ? pci_write_block(pd, (int) off, buf, (int) len)
                                       : pci_read_block(pd, (int) off, buf, (int) len);
                        r = ok ? 0 : -EIO;
                }
        }
        pci_unguard();
        if (pd)
                pci_free_dev(pd);
        return r;
}

static int ops_read(void *userdata, const char *dev, unsigned off, void *buf, size_t len) {
        return config_io(userdata, dev, off, buf, len, false);
}

static int ops_write(void *userdata, const char *dev, unsigned off, const void *buf, size_t len) {
        return config_io(userdata, dev, off, (void *) buf, len, true);
}

static void ops_sleep(void *userdata, uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / 1000000u), .tv_nsec = (long) (usec % 1000000u) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static uint64_t ops_now(void *userdata) {
        return now_usec();
}

const ConfigOps pci_config_ops = {
        .read = ops_read,
        .write = ops_write,
        .sleep_usec = ops_sleep,
        .now_usec = ops_now,
};

unsigned pci_config_find_cap(const uint8_t cfg[static 256], uint8_t id, unsigned len) {
        if (!((cfg[PCI_STATUS] | cfg[PCI_STATUS + 1] << 8) & PCI_STATUS_CAP_LIST))
                return 0;
        unsigned pos = cfg[PCI_CAPABILITY_LIST] & 0xfc;
        /* at most 48 capabilities fit in 192 bytes: more means a loop */
        for (int ttl = 48; ttl > 0 && pos >= 0x40 && pos <= 0xfc; ttl--) {
                if (cfg[pos] == id)
                        return pos + len <= 256 ? pos : 0;
                pos = cfg[pos + 1] & 0xfc;
        }
        return 0;
}

unsigned pci_config_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id, unsigned cap_len) {
        unsigned pos = 0x100;
        /* at most (4096 - 256) / 4 headers fit: more means a loop */
        for (int ttl = 960; ttl > 0 && pos >= 0x100 && pos + 4 <= len; ttl--) {
                uint32_t h = pci_config_le32(cfg, pos);
                /* 0: no extended capabilities; all ones: nobody answered */
                if (h == 0 || h == 0xffffffffu)
                        return 0;
                if ((h & 0xffff) == id)
                        return pos + cap_len <= len ? pos : 0;
                pos = (h >> 20) & 0xffc;
        }
        return 0;
}
