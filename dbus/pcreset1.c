/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure helpers of the contract: addresses and scope masks. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pcreset1.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Reads exactly n hex digits (no sign, no "0x"): strtoul would accept both. */
static int parse_hex_field(const char **p, size_t n, uint32_t *ret) {
        uint32_t v = 0;

        for (size_t i = 0; i < n; i++) {
                int h = hexval((*p)[i]);
                if (h < 0)
                        return -EINVAL;
                v = (v << 4) | (uint32_t) h;
        }
        *p += n;
        *ret = v;
        return 0;
}

int pci_address_parse(const char *s, PciAddress *ret) {
        PciAddress a = {};
        uint32_t v;
        const char *p = s;

        if (!s || !ret)
                return -EINVAL;

        /* Long form: the domain is 4 hex digits as the kernel prints it
         * ("%04x"), more for the VMD domains (0x10000 and up). */
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
                size_t n = (size_t) (colon - s);
                if (n < 4 || n > 8 || parse_hex_field(&p, n, &v) < 0 || *p++ != ':')
                        return -EINVAL;
                a.domain = v;
        }
        if (strlen(p) != 7)
                return -EINVAL;

        if (parse_hex_field(&p, 2, &v) < 0 || *p++ != ':')
                return -EINVAL;
        a.bus = (uint8_t) v;
        if (parse_hex_field(&p, 2, &v) < 0 || *p++ != '.' || v > 0x1f)
                return -EINVAL;
        a.dev = (uint8_t) v;
        if (parse_hex_field(&p, 1, &v) < 0 || v > 7 || *p != '\0')
                return -EINVAL;
        a.func = (uint8_t) v;

        *ret = a;
        return 0;
}

char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_MAX]) {
        snprintf(buf, PCI_ADDRESS_MAX, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev, a->func);
        return buf;
}

bool pci_address_equal(const PciAddress *a, const PciAddress *b) {
        return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev && a->func == b->func;
}

static const struct {
        const char *name;
        uint32_t mask;
} scope_names[] = {
        /* single bits first: pcreset_scope_bit_name() and format use them */
        { "device_specific", PCRESET_SCOPE_DEV_SPECIFIC },
        { "flr",             PCRESET_SCOPE_FLR },
        { "pm",              PCRESET_SCOPE_PM },
        { "slot",            PCRESET_SCOPE_SLOT },
        { "bus",             PCRESET_SCOPE_BUS },
        { "acpi",            PCRESET_SCOPE_ACPI },
        { "cxl_bus",         PCRESET_SCOPE_CXL_BUS },
        /* aliases */
        { "dev_specific",    PCRESET_SCOPE_DEV_SPECIFIC },
        { "func",            PCRESET_SCOPE_FUNC },
        { "link",            PCRESET_SCOPE_LINK },
        { "any",             PCRESET_SCOPE_ANY },
};
#define N_SINGLE_BITS 7

const char *pcreset_scope_bit_name(uint32_t bit) {
        for (size_t i = 0; i < N_SINGLE_BITS; i++)
                if (scope_names[i].mask == bit)
                        return scope_names[i].name;
        return NULL;
}

bool pcreset_scope_mask_valid(uint32_t mask) {
        return mask == PCRESET_SCOPE_ANY || (mask != 0 && (mask & ~(uint32_t) PCRESET_SCOPE_KNOWN) == 0);
}

static int parse_scope_number(const char *s, uint32_t *ret) {
        const char *p = s;
        uint64_t v = 0;
        int base = 10;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                base = 16;
                p += 2;
        }
        if (*p == '\0')
                return -EINVAL;
        for (; *p; p++) {
                int d = hexval(*p);
                if (d < 0 || d >= base)
                        return -EINVAL;
                v = v * (uint64_t) base + (uint64_t) d;
                if (v > UINT32_MAX)
                        return -EINVAL;
        }
        *ret = (uint32_t) v;
        return 0;
}

int pcreset_scope_parse(const char *s, uint32_t *ret) {
        uint32_t mask = 0;

        if (!s || !ret || *s == '\0')
                return -EINVAL;

        if (s[0] >= '0' && s[0] <= '9') {
                if (parse_scope_number(s, &mask) < 0 || !pcreset_scope_mask_valid(mask))
                        return -EINVAL;
                *ret = mask;
                return 0;
        }

        for (const char *p = s;;) {
                size_t n = strcspn(p, ",");
                bool found = false;

                for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
                        if (n == strlen(scope_names[i].name) && strncasecmp(p, scope_names[i].name, n) == 0) {
                                mask |= scope_names[i].mask;
                                found = true;
                                break;
                        }
                if (!found)
                        return -EINVAL;
                if (p[n] == '\0')
                        break;
                p += n + 1;
        }

        *ret = mask;
        return 0;
}

char *pcreset_scope_format(uint32_t mask, char *buf, size_t size) {
        size_t used = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (mask == PCRESET_SCOPE_ANY) {
                snprintf(buf, size, "any");
                return buf;
        }
        if (mask == 0) {
                snprintf(buf, size, "none");
                return buf;
        }
        for (uint32_t bit = 1; bit; bit <<= 1) {
                if (!(mask & bit))
                        continue;
                const char *name = pcreset_scope_bit_name(bit);
                char unknown[16];
                if (!name) {
                        snprintf(unknown, sizeof unknown, "0x%x", bit);
                        name = unknown;
                }
                int r = snprintf(buf + used, size - used, "%s%s", used ? "," : "", name);
                if (r < 0 || (size_t) r >= size - used) {
                        buf[used] = '\0'; /* no half names */
                        break;
                }
                used += (size_t) r;
        }
        return buf;
}
