/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The userspace secondary bus reset against a fake config space that
 * simulates the reset (devices lose their config and answer all-ones for a
 * while) and records every write with a virtual clock: the order, how long
 * the bit is held, the waits, and that every saved register is restored.
 */

#include <errno.h>
#include <glib.h>
#include <stdbool.h>

#include "pciconfig.h"
#include "sbr.h"

#define N_DEVS 2

typedef struct Write {
        char dev[16];
        unsigned off, len;
        uint8_t data[4];
        uint64_t at;
} Write;

typedef struct Fake {
        uint8_t bridge[256];
        uint8_t dev[N_DEVS][256];
        uint8_t poweron[N_DEVS][256];
        const char *names[N_DEVS];
        uint64_t now;
        GArray *writes;
        uint64_t reset_at, deassert_at;
        int not_ready_reads;     /* all-ones answers after the reset */
        bool never_back;
        uint16_t back_as;        /* device id after the reset, 0 = same */
} Fake;

static int find(Fake *f, const char *dev, uint8_t **cfg) {
        if (g_str_equal(dev, "0000:00:01.0")) {
                *cfg = f->bridge;
                return -1;
        }
        for (int i = 0; i < N_DEVS; i++)
                if (g_str_equal(dev, f->names[i])) {
                        *cfg = f->dev[i];
                        return i;
                }
        g_assert_not_reached();
}

static int fake_read(void *ud, const char *dev, unsigned off, void *buf, size_t len) {
        Fake *f = ud;
        uint8_t *cfg;
        int i = find(f, dev, &cfg);
        if (i >= 0 && f->deassert_at && (f->not_ready_reads > 0 || f->never_back)) {
                f->not_ready_reads--;
                memset(buf, 0xff, len);
                return 0;
        }
        memcpy(buf, cfg + off, len);
        return 0;
}

static int fake_write(void *ud, const char *dev, unsigned off, const void *buf, size_t len) {
        Fake *f = ud;
        uint8_t *cfg;
        Write w = { .off = off, .len = (unsigned) len, .at = f->now };
        g_assert_cmpuint(len, <=, 4);
        g_strlcpy(w.dev, dev, sizeof w.dev);
        memcpy(w.data, buf, len);
        g_array_append_val(f->writes, w);
        int i = find(f, dev, &cfg);
        memcpy(cfg + off, buf, len);
        if (i < 0 && off == 0x3e) {
                if (cfg[0x3e] & 0x40)
                        f->reset_at = f->now;
                else if (f->reset_at) {
                        /* the reset hits every device below: power-on state */
                        f->deassert_at = f->now;
                        for (int k = 0; k < N_DEVS; k++) {
                                memcpy(f->dev[k], f->poweron[k], 256);
                                if (f->back_as)
                                        memcpy(f->dev[k] + 2, &f->back_as, 2);
                        }
                }
        }
        return 0;
}

static void fake_sleep(void *ud, uint64_t usec) {
        ((Fake *) ud)->now += usec;
}

static uint64_t fake_now(void *ud) {
        return ((Fake *) ud)->now;
}

static const ConfigOps fake_ops = { fake_read, fake_write, fake_sleep, fake_now };

/* A PCIe endpoint with a PM cap at 0x40 and a PCIe cap (v2) at 0x50. */
static void make_device(uint8_t cfg[256], uint16_t vendor, uint16_t device, uint8_t salt) {
        memset(cfg, 0, 256);
        memcpy(cfg, &vendor, 2);
        memcpy(cfg + 2, &device, 2);
        cfg[0x06] = 0x10;             /* capability list */
        cfg[0x0e] = 0x80;
        cfg[0x34] = 0x40;
        cfg[0x40] = 0x01; cfg[0x41] = 0x50;
        cfg[0x50] = 0x10; cfg[0x51] = 0x00; cfg[0x52] = 0x02;
}

static Fake *fake_new(void) {
        Fake *f = g_new0(Fake, 1);
        f->names[0] = "0000:01:00.0";
        f->names[1] = "0000:01:00.1";
        for (int i = 0; i < N_DEVS; i++) {
                make_device(f->poweron[i], 0x8086, (uint16_t) (0x1521), (uint8_t) i);
                memcpy(f->dev[i], f->poweron[i], 256);
                /* state a driverless device may still hold: BARs, command, caps */
                for (unsigned off = 0x10; off < 0x28; off++)
                        f->dev[i][off] = (uint8_t) (0xa0 + off + i);
                f->dev[i][0x04] = 0x06;              /* memory + bus master */
                f->dev[i][0x0c] = 0x10;
                f->dev[i][0x3c] = 0x0b;
                f->dev[i][0x44] = 0x08;              /* PMCSR */
                f->dev[i][0x58] = 0x1f;              /* DevCtl */
                f->dev[i][0x60] = 0x40;              /* LnkCtl */
                f->dev[i][0x78] = 0x05;              /* DevCtl2 */
        }
        /* bridge: PCIe cap at 0x40 with DLLLARC, link up */
        f->bridge[0x06] = 0x10;
        f->bridge[0x0e] = 0x01;
        f->bridge[0x34] = 0x40;
        f->bridge[0x40] = 0x10; f->bridge[0x42] = 0x42;
        f->bridge[0x4e] = 0x10;                       /* LnkCap byte 2: bit 20 */
        f->bridge[0x53] = 0x20;                       /* LnkSta: DLLLA */
        f->bridge[0x3e] = 0x02;                       /* some other bridge control bit */
        f->writes = g_array_new(FALSE, TRUE, sizeof(Write));
        f->now = 1000;   /* 0 means "never" below */
        return f;
}

static void fake_free(Fake *f) {
        g_array_unref(f->writes);
        g_free(f);
}

static const SbrDevice devs[N_DEVS] = { { "0000:01:00.0", 0x8086, 0x1521 }, { "0000:01:00.1", 0x8086, 0x1521 } };

static void test_sequence(void) {
        Fake *f = fake_new();
        uint8_t before[N_DEVS][256];
        char *msg = NULL;
        memcpy(before, f->dev, sizeof before);
        f->not_ready_reads = 3;

        g_assert_cmpint(sbr_run(&fake_ops, f, "0000:00:01.0", devs, N_DEVS, 1000000, &msg), ==, 0);
        g_assert_null(msg);

        /* 1. the bridge: bit set, held >= 2 ms, cleared, other bits kept */
        Write *w = &g_array_index(f->writes, Write, 0);
        g_assert_cmpstr(w[0].dev, ==, "0000:00:01.0");
        g_assert_cmpuint(w[0].off, ==, 0x3e);
        g_assert_cmphex(w[0].data[0], ==, 0x42);
        g_assert_cmpstr(w[1].dev, ==, "0000:00:01.0");
        g_assert_cmphex(w[1].data[0], ==, 0x02);
        g_assert_cmpuint(w[1].at - w[0].at, >=, SBR_ASSERT_USEC);
        /* 2. nothing touches a device before the link settled 100 ms */
        g_assert_cmpuint(w[2].at - w[1].at, >=, SBR_SETTLE_USEC);

        /* 3. every device: each saved register written back exactly, COMMAND last */
        for (int i = 0; i < N_DEVS; i++) {
                GArray *mine = g_array_new(FALSE, FALSE, sizeof(Write));
                for (guint k = 2; k < f->writes->len; k++)
                        if (g_str_equal(w[k].dev, devs[i].name))
                                g_array_append_val(mine, w[k]);
                g_assert_cmpuint(mine->len, >, 0);
                Write *last = &g_array_index(mine, Write, mine->len - 1);
                g_assert_cmpuint(last->off, ==, 0x04);
                /* BARs before COMMAND, dword writes downward from 0x3c */
                g_assert_cmpuint(g_array_index(mine, Write, 0).off, ==, 0x3c);
                /* the device's config is back as it was, where it matters */
                g_assert_cmpmem(f->dev[i] + 0x10, 0x18, before[i] + 0x10, 0x18);
                g_assert_cmpmem(f->dev[i] + 0x04, 2, before[i] + 0x04, 2);
                g_assert_cmphex(f->dev[i][0x0c], ==, 0x10);
                g_assert_cmphex(f->dev[i][0x3c], ==, 0x0b);
                g_assert_cmphex(f->dev[i][0x44], ==, 0x08);
                g_assert_cmphex(f->dev[i][0x58], ==, 0x1f);
                g_assert_cmphex(f->dev[i][0x60], ==, 0x40);
                g_assert_cmphex(f->dev[i][0x78], ==, 0x05);
                /* and nothing was written that had not been saved: every write equals the saved bytes */
                for (guint k = 0; k < mine->len; k++) {
                        Write *x = &g_array_index(mine, Write, k);
                        g_assert_cmpmem(x->data, x->len, before[i] + x->off, x->len);
                }
                g_array_unref(mine);
        }
        /* the bridge kept its config */
        g_assert_cmphex(f->bridge[0x3e], ==, 0x02);
        fake_free(f);
}

static void test_not_back(void) {
        Fake *f = fake_new();
        char *msg = NULL;
        f->never_back = true;
        g_assert_cmpint(sbr_run(&fake_ops, f, "0000:00:01.0", devs, N_DEVS, 500000, &msg), ==, -ETIMEDOUT);
        g_assert_cmpstr(msg, ==, "0000:01:00.0 did not answer within 500 ms after the bus reset (reads ffffffff)");
        /* the bus is not left in reset */
        g_assert_cmphex(f->bridge[0x3e], ==, 0x02);
        g_free(msg);
        fake_free(f);

        f = fake_new();
        f->back_as = 0x1522;
        g_assert_cmpint(sbr_run(&fake_ops, f, "0000:00:01.0", devs, N_DEVS, 500000, &msg), ==, -EIO);
        g_assert_cmpstr(msg, ==, "0000:01:00.0 did not come back after the bus reset: reads 8086:1522, expected 8086:1521");
        g_free(msg);
        fake_free(f);
}

static void test_link_down(void) {
        Fake *f = fake_new();
        char *msg = NULL;
        f->bridge[0x53] = 0;   /* the link never comes back */
        g_assert_cmpint(sbr_run(&fake_ops, f, "0000:00:01.0", devs, N_DEVS, 500000, &msg), ==, -ETIMEDOUT);
        g_assert_cmpstr(msg, ==, "the link below 0000:00:01.0 did not come back within 1000 ms after the bus reset");
        g_free(msg);
        fake_free(f);
}

static void test_wrong_device_before(void) {
        Fake *f = fake_new();
        char *msg = NULL;
        SbrDevice other[N_DEVS] = { { "0000:01:00.0", 0x8086, 0x10d3 }, devs[1] };
        g_assert_cmpint(sbr_run(&fake_ops, f, "0000:00:01.0", other, N_DEVS, 500000, &msg), ==, -EIO);
        g_assert_nonnull(strstr(msg, "before the reset"));
        /* refused before touching anything */
        g_assert_cmpuint(f->writes->len, ==, 0);
        g_free(msg);
        fake_free(f);
}

static void test_cap_walk(void) {
        uint8_t cfg[256] = {};
        cfg[0x06] = 0x10;
        cfg[0x34] = 0x40;
        /* a loop: 0x40 -> 0x50 -> 0x40 */
        cfg[0x40] = 0x05; cfg[0x41] = 0x50;
        cfg[0x50] = 0x09; cfg[0x51] = 0x40;
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x10, 4), ==, 0);
        /* a pointer into the header */
        cfg[0x51] = 0x10;
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x10, 4), ==, 0);
        /* found, low bits of the pointer ignored as the spec says */
        cfg[0x51] = 0x63; cfg[0x60] = 0x10;
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x10, 4), ==, 0x60);
        /* a capability whose registers would run past 256 bytes is not found */
        cfg[0x61] = 0xfc; cfg[0xfc] = 0x01;
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x01, PCI_PM_CAP_LEN), ==, 0);
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x01, 4), ==, 0xfc);
        /* no capability list bit: nothing */
        cfg[0x06] = 0;
        g_assert_cmpuint(pci_config_find_cap(cfg, 0x10, 4), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sbr/sequence", test_sequence);
        g_test_add_func("/sbr/not-back", test_not_back);
        g_test_add_func("/sbr/link-down", test_link_down);
        g_test_add_func("/sbr/wrong-device-before", test_wrong_device_before);
        g_test_add_func("/sbr/cap-walk", test_cap_walk);
        return g_test_run();
}
