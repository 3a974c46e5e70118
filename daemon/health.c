/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <pci/header.h>

#include "health.h"
#include "pciconfig.h"
#include "util.h"

/* Current Link Speed codes (Link Capabilities 2's vector bits) in MT/s */
static uint32_t speed_mts(unsigned code) {
        static const uint32_t mts[] = { 0, 2500, 5000, 8000, 16000, 32000, 64000 };
        return code < ELEMENTSOF(mts) ? mts[code] : 0;
}

/* Device/Port Type values whose link registers are implemented: not a root
 * complex integrated endpoint (9) or event collector (10). */
static bool type_has_link(unsigned type) {
        return type <= 8 && type != 2 && type != 3;
}

void health_parse(const uint8_t *cfg, size_t len, HealthSample *ret) {
        *ret = (HealthSample) { .readable = len >= 256 };
        if (len < 256)
                return;
        /* only up to Link Status: a version 1 capability may end there, near
         * the end of the 256 bytes (QEMU's e1000e has one at 0xe0) */
        unsigned exp = pci_config_find_cap(cfg, PCI_CAP_ID_EXP, PCI_EXP_LNKSTA + 2);
        if (exp && type_has_link((pci_config_le16(cfg, exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4)) {
                uint16_t ls = pci_config_le16(cfg, exp + PCI_EXP_LNKSTA);
                ret->link_regs = true;
                ret->speed_mts = speed_mts(ls & PCI_EXP_LNKSTA_SPEED);
                ret->width = (uint8_t) ((ls & PCI_EXP_LNKSTA_WIDTH) >> 4);
                ret->training = ls & PCI_EXP_LNKSTA_TRAIN;
                /* a reserved (VF) or not negotiated field: no link */
                if (!ret->speed_mts || !ret->width)
                        ret->speed_mts = ret->width = 0;
        }
        unsigned aer = pci_config_find_ext_cap(cfg, len, PCI_EXT_CAP_ID_AER, PCI_AER_CAP_LEN);
        if (aer) {
                ret->aer = true;
                ret->aer_status = pci_config_le32(cfg, aer + PCI_ERR_UNCOR_STATUS);
                ret->aer_mask = pci_config_le32(cfg, aer + PCI_ERR_UNCOR_MASK);
        }
}

int health_sample(const char *syspath, HealthSample *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/config", syspath);
        uint8_t cfg[4096];

        *ret = (HealthSample) {};
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* 4096 bytes for root on a PCIe device, 256 on conventional PCI */
        ssize_t n = pread(fd, cfg, sizeof cfg, 0);
        if (n < 0)
                return -errno;
        if (n < 256)
                return -EIO;
        health_parse(cfg, (size_t) n, ret);
        return 0;
}

void health_judge(DeviceHealth *d) {
        const HealthSample *b = &d->before, *a = &d->after;

        d->link = LINK_NOT_APPLICABLE;
        if (b->readable && b->speed_mts) {
                if (!a->readable || a->speed_mts < b->speed_mts || a->width < b->width)
                        d->link = LINK_DEGRADED;
                else if (a->speed_mts == b->speed_mts && a->width == b->width)
                        d->link = LINK_SAME;
                else
                        d->link = LINK_BETTER;
        }
        d->aer = AER_NOT_APPLICABLE;
        d->aer_new = 0;
        if (b->aer && a->aer) {
                d->aer_new = a->aer_status & ~b->aer_status & ~a->aer_mask;
                d->aer = d->aer_new ? AER_NEW_ERRORS : AER_CLEAR;
        }
}

HealthOutcome health_outcome(const HealthReport *r) {
        HealthOutcome o = HEALTH_NOT_APPLICABLE;
        for (size_t i = 0; i < r->n; i++) {
                const DeviceHealth *d = &r->devices[i];
                HealthOutcome this = d->link == LINK_DEGRADED ? HEALTH_DEGRADED :
                                     d->aer == AER_NEW_ERRORS ? HEALTH_NEW_ERRORS :
                                     d->link != LINK_NOT_APPLICABLE || d->aer != AER_NOT_APPLICABLE ? HEALTH_OK :
                                     HEALTH_NOT_APPLICABLE;
                if (this > o)
                        o = this;
        }
        return o;
}

char *health_link_format(const HealthSample *s) {
        if (!s->speed_mts)
                return strdup("no link");
        if (s->speed_mts % 1000)
                return strjoin_printf("%u.%u GT/s x%u", s->speed_mts / 1000, s->speed_mts % 1000 / 100, s->width);
        return strjoin_printf("%u GT/s x%u", s->speed_mts / 1000, s->width);
}

char *health_aer_format(uint32_t bits) {
        /* lspci -vv's names, so the two can be compared */
        static const char *const names[32] = {
                [4] = "DLP", [5] = "SDES", [12] = "TLP", [13] = "FCP", [14] = "CmpltTO", [15] = "CmpltAbrt",
                [16] = "UnxCmplt", [17] = "RxOF", [18] = "MalfTLP", [19] = "ECRC", [20] = "UnsupReq",
                [21] = "ACSViol", [22] = "UncorrIntErr", [23] = "BlockedTLP", [24] = "AtomicOpBlocked",
                [25] = "TLPBlockedErr", [26] = "PoisonTLPBlocked",
        };
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (unsigned i = 0, n = 0; i < 32; i++)
                if (bits & (1u << i)) {
                        if (names[i])
                                fprintf(f, "%s%s", n++ ? " " : "", names[i]);
                        else
                                fprintf(f, "%sbit%u", n++ ? " " : "", i);
                }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

char *health_describe(const HealthReport *r) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        bool ok = f != NULL;

        for (size_t i = 0, n = 0; ok && i < r->n; i++) {
                const DeviceHealth *d = &r->devices[i];
                if (d->link == LINK_DEGRADED) {
                        _cleanup_free_ char *now = health_link_format(&d->after), *was = health_link_format(&d->before);
                        ok = now && was;
                        if (ok)
                                fprintf(f, "%s%s: link %s, was %s", n++ ? "; " : "", d->name,
                                        d->after.readable ? now : "unreadable", was);
                }
                if (ok && d->aer == AER_NEW_ERRORS) {
                        _cleanup_free_ char *bits = health_aer_format(d->aer_new);
                        ok = bits != NULL;
                        if (ok)
                                fprintf(f, "%s%s: new uncorrectable errors %s", n++ ? "; " : "", d->name, bits);
                }
        }
        if (f && fclose(f) != 0)
                ok = false;
        if (!ok) {
                free(s);
                return NULL;
        }
        return s;
}

const char *health_outcome_to_string(HealthOutcome o) {
        static const char *const t[_HEALTH_OUTCOME_MAX] = {
                [HEALTH_NOT_APPLICABLE] = "not-applicable",
                [HEALTH_OK] = "ok",
                [HEALTH_NEW_ERRORS] = "new-errors",
                [HEALTH_DEGRADED] = "degraded",
        };
        return o < _HEALTH_OUTCOME_MAX ? t[o] : NULL;
}

const char *link_health_to_string(LinkHealth l) {
        static const char *const t[_LINK_HEALTH_MAX] = {
                [LINK_NOT_APPLICABLE] = "not-applicable",
                [LINK_SAME] = "same",
                [LINK_BETTER] = "better",
                [LINK_DEGRADED] = "degraded",
        };
        return l < _LINK_HEALTH_MAX ? t[l] : NULL;
}

const char *aer_health_to_string(AerHealth a) {
        static const char *const t[_AER_HEALTH_MAX] = {
                [AER_NOT_APPLICABLE] = "not-applicable",
                [AER_CLEAR] = "clear",
                [AER_NEW_ERRORS] = "new-errors",
        };
        return a < _AER_HEALTH_MAX ? t[a] : NULL;
}

void health_report_done(HealthReport *r) {
        r->devices = mfree(r->devices);
        r->n = 0;
}
