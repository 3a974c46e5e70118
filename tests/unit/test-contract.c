/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Address and scope parsing: every shape of bad input is refused. */

#include <errno.h>
#include <glib.h>

#include "pcreset1.h"

static void test_address_good(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "0000:01:00.0", "0000:01:00.0" },
                { "01:00.0", "0000:01:00.0" },
                { "0000:FF:1F.7", "0000:ff:1f.7" },
                { "abcd:0a:0b.3", "abcd:0a:0b.3" },
                { "10000:00:02.0", "10000:00:02.0" },   /* VMD domain */
                { "00:00.0", "0000:00:00.0" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                PciAddress a;
                char buf[PCI_ADDRESS_MAX];
                g_assert_cmpint(pci_address_parse(cases[i].in, &a), ==, 0);
                g_assert_cmpstr(pci_address_format(&a, buf), ==, cases[i].out);
        }
}

static void test_address_bad(void) {
        static const char *const bad[] = {
                "", "0", "01:00", "01:00.", "0000:01:00.8", "0000:01:20.0", "0000:1:00.0", "000:01:00.0",
                "0000:01:00.0 ", " 0000:01:00.0", "0000:01:00.0\n", "0000:01:00.00", "+000:01:00.0",
                "0x00:01:00.0", "0000-01-00.0", "0000:01:00:0", "0000:g1:00.0", "123456789:01:00.0",
                "0000::00.0", "../../../etc", "0000:01:00.0/../x", "-1:00.0", "01:-0.0",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                PciAddress a;
                g_test_message("bad address '%s'", bad[i]);
                g_assert_cmpint(pci_address_parse(bad[i], &a), ==, -EINVAL);
        }
        PciAddress a;
        g_assert_cmpint(pci_address_parse(NULL, &a), ==, -EINVAL);
}

static void test_scope_parse(void) {
        static const struct {
                const char *in;
                uint32_t mask;
        } cases[] = {
                { "flr", PCRESET_SCOPE_FLR },
                { "FLR,pm", PCRESET_SCOPE_FLR | PCRESET_SCOPE_PM },
                { "func", PCRESET_SCOPE_FUNC },
                { "link", PCRESET_SCOPE_LINK },
                { "any", PCRESET_SCOPE_ANY },
                { "slot,bus", PCRESET_SCOPE_SLOT | PCRESET_SCOPE_BUS },
                { "device_specific,acpi,cxl_bus", 0x01 | 0x20 | 0x40 },
                { "0x27", 0x27 },
                { "39", 39 },
                { "0xffffffff", PCRESET_SCOPE_ANY },
                { "4294967295", PCRESET_SCOPE_ANY },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint32_t m = 0;
                g_assert_cmpint(pcreset_scope_parse(cases[i].in, &m), ==, 0);
                g_assert_cmphex(m, ==, cases[i].mask);
        }
        static const char *const bad[] = {
                "", "0", "0x0", "0x80", "128", "flr,", ",flr", "flr,,pm", "foo", "flr pm", "0x", "0x1g", "-1",
                "4294967296", "0x100000000", "1e3", "flr;pm", "0x7fffffff",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                uint32_t m;
                g_test_message("bad scope '%s'", bad[i]);
                g_assert_cmpint(pcreset_scope_parse(bad[i], &m), ==, -EINVAL);
        }
}

static void test_scope_mask_valid(void) {
        g_assert_false(pcreset_scope_mask_valid(0));
        g_assert_true(pcreset_scope_mask_valid(PCRESET_SCOPE_ANY));
        g_assert_true(pcreset_scope_mask_valid(PCRESET_SCOPE_KNOWN));
        g_assert_false(pcreset_scope_mask_valid(0x80));
        g_assert_false(pcreset_scope_mask_valid(0x7fffffff));
        for (uint32_t b = 1; b <= 0x40; b <<= 1)
                g_assert_true(pcreset_scope_mask_valid(b));
}

static void test_scope_format(void) {
        char buf[128];
        g_assert_cmpstr(pcreset_scope_format(PCRESET_SCOPE_FUNC, buf, sizeof buf), ==, "device_specific,flr,pm,acpi");
        g_assert_cmpstr(pcreset_scope_format(PCRESET_SCOPE_ANY, buf, sizeof buf), ==, "any");
        g_assert_cmpstr(pcreset_scope_format(0, buf, sizeof buf), ==, "none");
        g_assert_cmpstr(pcreset_scope_format(0x18, buf, sizeof buf), ==, "slot,bus");
        g_assert_cmpstr(pcreset_scope_format(0x100, buf, sizeof buf), ==, "0x100");
        g_assert_cmpstr(pcreset_scope_format(PCRESET_SCOPE_FUNC, buf, 6), ==, "");   /* truncated, still terminated */
        g_assert_cmpstr(pcreset_scope_bit_name(PCRESET_SCOPE_SLOT), ==, "slot");
        g_assert_null(pcreset_scope_bit_name(0x3));
        /* round trip of every single bit */
        for (uint32_t b = 1; b <= 0x40; b <<= 1) {
                uint32_t m;
                g_assert_cmpint(pcreset_scope_parse(pcreset_scope_format(b, buf, sizeof buf), &m), ==, 0);
                g_assert_cmphex(m, ==, b);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/contract/address/good", test_address_good);
        g_test_add_func("/contract/address/bad", test_address_bad);
        g_test_add_func("/contract/scope/parse", test_scope_parse);
        g_test_add_func("/contract/scope/valid", test_scope_mask_valid);
        g_test_add_func("/contract/scope/format", test_scope_format);
        return g_test_run();
}
