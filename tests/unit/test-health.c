/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * health.c on config spaces built here byte by byte (not by faketree): which
 * devices have a link to judge, the judgement, the outcome, and that broken
 * capability lists end the walk.
 */

#include "health.h"
#include "pciconfig.h"
#include "test-common.h"

typedef struct Cfg {
        uint8_t b[4096];
} Cfg;

static void put16(Cfg *c, unsigned off, uint16_t v) {
        c->b[off] = v & 0xff;
        c->b[off + 1] = v >> 8;
}

static void put32(Cfg *c, unsigned off, uint32_t v) {
        put16(c, off, v & 0xffff);
        put16(c, off + 2, v >> 16);
}

/* A PCIe function of the given Device/Port Type with a version 2
 * capability at `at` (behind a PM capability at 0x40), Link Status lnksta. */
static void pcie_at(Cfg *c, unsigned at, unsigned version, unsigned type, uint16_t lnksta) {
        memset(c->b, 0, sizeof c->b);
        put32(c, 0x00, 0x12348086);
        put16(c, 0x06, 0x0010);
        c->b[0x34] = 0x40;
        c->b[0x40] = 0x01;
        c->b[0x41] = (uint8_t) at;
        c->b[at] = 0x10;
        put16(c, at + 2, (uint16_t) (version | type << 4));
        put16(c, at + 0x12, lnksta);
}

static void pcie(Cfg *c, unsigned type, uint16_t lnksta) {
        pcie_at(c, 0x50, 2, type, lnksta);
}

static void aer(Cfg *c, unsigned at, unsigned next, uint32_t status, uint32_t mask) {
        put32(c, at, 0x00010001 | next << 20 | 1u << 17);
        put32(c, at + 4, status);
        put32(c, at + 8, mask);
}

static void test_parse(void) {
        Cfg c;
        HealthSample s;

        /* endpoint, 16 GT/s x16, AER behind another extended capability */
        pcie(&c, 0, 0x0104);
        put32(&c, 0x100, 0x1401000b);   /* vendor specific, next at 0x140 */
        aer(&c, 0x140, 0, 0x00100020, 0x00004000);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_true(s.readable && s.link_regs && s.aer);
        g_assert_cmpuint(s.speed_mts, ==, 16000);
        g_assert_cmpuint(s.width, ==, 16);
        g_assert_false(s.training);
        g_assert_cmphex(s.aer_status, ==, 0x00100020);
        g_assert_cmphex(s.aer_mask, ==, 0x00004000);

        /* the same 256 bytes only (no extended space): no AER */
        health_parse(c.b, 256, &s);
        g_assert_true(s.link_regs);
        g_assert_false(s.aer);

        /* a version 1 capability (0x14 bytes) near the end, as QEMU's
         * e1000e has it at 0xe0: its Link Status is there all the same */
        pcie_at(&c, 0xe0, 1, 0, 0x0011);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_true(s.link_regs);
        g_assert_cmpuint(s.speed_mts, ==, 2500);
        g_assert_cmpuint(s.width, ==, 1);

        /* 2.5 GT/s x1 root port, still training */
        pcie(&c, 4, 0x0811);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_cmpuint(s.speed_mts, ==, 2500);
        g_assert_cmpuint(s.width, ==, 1);
        g_assert_true(s.training);

        /* root complex integrated endpoint and event collector: the link
         * registers are not theirs (whatever they hold) */
        for (unsigned type = 9; type <= 10; type++) {
                pcie(&c, type, 0x0104);
                health_parse(c.b, sizeof c.b, &s);
                g_assert_false(s.link_regs);
                g_assert_cmpuint(s.speed_mts, ==, 0);
        }

        /* a VF: reserved link fields read 0 */
        pcie(&c, 0, 0x0000);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_true(s.link_regs);
        g_assert_cmpuint(s.speed_mts, ==, 0);
        g_assert_cmpuint(s.width, ==, 0);

        /* conventional PCI: no capability list bit */
        pcie(&c, 0, 0x0104);
        put16(&c, 0x06, 0);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_false(s.link_regs);

        /* an extended capability pointing at itself, or at junk: no hang, no AER */
        pcie(&c, 0, 0x0104);
        put32(&c, 0x100, 0x1000000b);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_false(s.aer);
        put32(&c, 0x100, 0xffc0000b);   /* next at 0xffc: a header that does not fit an AER */
        put32(&c, 0xffc, 0x00010001);
        health_parse(c.b, sizeof c.b, &s);
        g_assert_false(s.aer);
        g_assert_cmpuint(pci_config_find_ext_cap(c.b, sizeof c.b, 0x0001, 4), ==, 0xffc);
}

static DeviceHealth dev(uint32_t sb, uint8_t wb, uint32_t sa, uint8_t wa) {
        DeviceHealth d = { .name = "0000:01:00.0" };
        d.before = (HealthSample) { .readable = true, .link_regs = true, .speed_mts = sb, .width = wb };
        d.after = (HealthSample) { .readable = true, .link_regs = true, .speed_mts = sa, .width = wa };
        health_judge(&d);
        return d;
}

static void test_judge(void) {
        g_assert_cmpint(dev(16000, 16, 16000, 16).link, ==, LINK_SAME);
        g_assert_cmpint(dev(16000, 16, 2500, 1).link, ==, LINK_DEGRADED);
        g_assert_cmpint(dev(16000, 16, 16000, 8).link, ==, LINK_DEGRADED);
        g_assert_cmpint(dev(16000, 16, 32000, 8).link, ==, LINK_DEGRADED);  /* faster but narrower */
        g_assert_cmpint(dev(16000, 16, 0, 0).link, ==, LINK_DEGRADED);      /* down */
        g_assert_cmpint(dev(2500, 16, 16000, 16).link, ==, LINK_BETTER);    /* had slowed to save power */
        g_assert_cmpint(dev(0, 0, 16000, 16).link, ==, LINK_NOT_APPLICABLE);
        g_assert_cmpint(dev(0, 0, 0, 0).link, ==, LINK_NOT_APPLICABLE);

        /* AER: only bits that are new and unmasked count */
        DeviceHealth d = dev(8000, 4, 8000, 4);
        d.before.aer = d.after.aer = true;
        d.before.aer_status = 0x00000020;                       /* SDES, sticky from before */
        d.after.aer_status = 0x00000020 | 0x00004000 | 0x00100000; /* + CmpltTO (masked) + UnsupReq */
        d.after.aer_mask = 0x00004000;
        health_judge(&d);
        g_assert_cmpint(d.aer, ==, AER_NEW_ERRORS);
        g_assert_cmphex(d.aer_new, ==, 0x00100000);
        d.after.aer_status = 0x00000020;
        health_judge(&d);
        g_assert_cmpint(d.aer, ==, AER_CLEAR);
        d.before.aer = false;
        health_judge(&d);
        g_assert_cmpint(d.aer, ==, AER_NOT_APPLICABLE);
}

static void test_outcome(void) {
        DeviceHealth ds[3] = { dev(0, 0, 0, 0), dev(8000, 4, 8000, 4), dev(8000, 4, 8000, 4) };
        HealthReport r = { .devices = ds, .n = 1 };
        g_assert_cmpstr(health_outcome_to_string(health_outcome(&r)), ==, "not-applicable");
        r.n = 3;
        g_assert_cmpstr(health_outcome_to_string(health_outcome(&r)), ==, "ok");
        g_autofree char *none = health_describe(&r);
        g_assert_cmpstr(none, ==, "");

        ds[1].after.aer = ds[1].before.aer = true;
        ds[1].after.aer_status = 0x00100020;
        strcpy(ds[1].name, "0000:01:00.1");
        health_judge(&ds[1]);
        g_assert_cmpstr(health_outcome_to_string(health_outcome(&r)), ==, "new-errors");

        ds[2] = dev(16000, 16, 2500, 1);
        strcpy(ds[2].name, "0000:01:00.2");
        g_assert_cmpstr(health_outcome_to_string(health_outcome(&r)), ==, "degraded");
        g_autofree char *text = health_describe(&r);
        g_assert_cmpstr(text, ==, "0000:01:00.1: new uncorrectable errors SDES UnsupReq; "
                                  "0000:01:00.2: link 2.5 GT/s x1, was 16 GT/s x16");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/health/parse", test_parse);
        g_test_add_func("/health/judge", test_judge);
        g_test_add_func("/health/outcome", test_outcome);
        return g_test_run();
}
