/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <time.h>

#include "log.h"
#include "pciconfig.h"
#include "pcreset1.h"
#include "util.h"

struct PciConfig {
        struct pci_access *pacc;
};

static __thread jmp_buf *config_error_jmp;

__attribute__((format(printf, 1, 2), noreturn))
static void config_error_cb(char *msg, ...) {
        va_list ap;
        va_start(ap, msg);
        log_fullv(LOG_ERR, msg, ap);
        va_end(ap);
        if (config_error_jmp)
                longjmp(*config_error_jmp, 1);
        abort();
}

__attribute__((format(printf, 1, 2)))
static void config_warning_cb(char *msg, ...) {
        va_list ap;
        va_start(ap, msg);
        log_fullv(LOG_DEBUG, msg, ap);
        va_end(ap);
}

int pci_config_new(const char *sysfs_root, PciConfig **ret) {
        _cleanup_free_ char *path = strjoin_printf("%s/bus/pci", sysfs_root);
        PciConfig *c = calloc(1, sizeof *c);
        jmp_buf jb;

        if (!c || !path) {
                free(c);
                return -ENOMEM;
        }
        c->pacc = pci_alloc();
        if (!c->pacc) {
                free(c);
                return -ENOMEM;
        }
        c->pacc->error = config_error_cb;
        c->pacc->warning = config_warning_cb;
        c->pacc->debug = config_warning_cb;
        c->pacc->method = PCI_ACCESS_SYS_BUS_PCI;
        c->pacc->writeable = 1;
        config_error_jmp = &jb;
        if (setjmp(jb) != 0) {
                config_error_jmp = NULL;
                pci_config_free(c);
                return -EIO;
        }
        pci_set_param(c->pacc, "sysfs.path", path);
        pci_init(c->pacc);
        config_error_jmp = NULL;
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
        config_error_jmp = &jb;
        if (setjmp(jb) == 0) {
                pd = pci_get_dev(c->pacc, (int) a.domain, a.bus, a.dev, a.func);
                if (pd) {
                        int ok = write ? pci_write_block(pd, (int) off, buf, (int) len)
                                       : pci_read_block(pd, (int) off, buf, (int) len);
                        r = ok ? 0 : -EIO;
                }
        }
        config_error_jmp = NULL;
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
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

const ConfigOps pci_config_ops = {
        .read = ops_read,
        .write = ops_write,
        .sleep_usec = ops_sleep,
        .now_usec = ops_now,
};
