/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pci_address_parse() and pci_address_format(): every caller-supplied
 * address goes through the parser first, so it must take any bytes. Checks:
 *   - it accepts exactly what pcreset1.h promises, compared against a
 *     regular expression of that promise (an independent oracle);
 *   - a parsed address is in range, formats canonically and re-parses to
 *     the same value (what the daemon does with every caller's address).
 */

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz-util.h"
#include "pcreset1.h"

/* "DDDD:BB:DD.F" (4 to 8 domain digits) or "BB:DD.F", hex, any case;
 * device 0..1f is checked below, the regex only says "2 digits". */
static regex_t grammar;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        if (regcomp(&grammar, "^([0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$",
                    REG_EXTENDED | REG_NOSUB) != 0)
                abort();
        return 0;
}

static bool promised(const char *s) {
        if (regexec(&grammar, s, 0, NULL, 0) != 0)
                return false;
        /* the device field: the two digits before the '.' */
        const char *dot = strrchr(s, '.');
        char dev[3] = { dot[-2], dot[-1], '\0' };
        return strtoul(dev, NULL, 16) <= 0x1f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_strndup(data, size);
        char buf[PCI_ADDRESS_MAX], buf2[PCI_ADDRESS_MAX];
        PciAddress a, b;

        int r = pci_address_parse(s, &a);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "'%s': returned %d", s, r);
        FUZZ_CHECK((r == 0) == promised(s), "'%s': parse says %d, the documented grammar says %s", s, r,
                   promised(s) ? "valid" : "invalid");
        if (r == 0) {
                FUZZ_CHECK(a.dev <= 0x1f && a.func <= 7, "'%s': out of range %x.%x", s, a.dev, a.func);

                pci_address_format(&a, buf);
                FUZZ_CHECK(strlen(buf) < PCI_ADDRESS_MAX, "'%s': formatted too long", s);
                FUZZ_CHECK(pci_address_parse(buf, &b) == 0, "'%s' formats as '%s', which does not parse", s, buf);
                FUZZ_CHECK(pci_address_equal(&a, &b), "'%s' -> '%s' re-parses differently", s, buf);
                pci_address_format(&b, buf2);
                FUZZ_CHECK(strcmp(buf, buf2) == 0, "format is not stable: '%s' vs '%s'", buf, buf2);

                /* canonical: lowercase, and the same text as the input up to case
                 * whenever the input already had a 4-digit domain */
                for (const char *p = buf; *p; p++)
                        FUZZ_CHECK(!isupper((unsigned char) *p), "'%s' is not lowercase", buf);
                if (strlen(s) == 12)
                        FUZZ_CHECK(strcasecmp(s, buf) == 0, "'%s' formats as '%s'", s, buf);
        }
        free(s);
        return 0;
}
