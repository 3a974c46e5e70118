/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scope helpers: pcreset_scope_parse() takes a caller's text (client
 * side) and pcreset_scope_format() builds every message and audit record
 * naming a mask (daemon side). Input: a u32 mask, a buffer size, then the
 * text to parse. Checks:
 *   - parse: success means a mask the daemon accepts, case does not matter,
 *     and it agrees with the documented grammar for numbers;
 *   - format/parse round trip: format(m) parses back to m exactly when m is
 *     valid (so a mask in a message can be pasted back to pcresetctl);
 *   - format into a buffer of any size (allocated to that size, so ASan
 *     sees a single byte too far) gives a terminated prefix, cut between
 *     names as its loop intends ("any" and "none" are plain snprintf);
 *   - bit_name() names exactly the known single bits.
 */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-util.h"
#include "pcreset1.h"

#define FULL 512 /* all 32 bits named take about 250 */

static void check_parse(const char *s) {
        uint32_t m, m2;
        int r = pcreset_scope_parse(s, &m);

        FUZZ_CHECK(r == 0 || r == -EINVAL, "'%s': returned %d", s, r);
        if (r == 0)
                FUZZ_CHECK(pcreset_scope_mask_valid(m), "'%s' parses to invalid mask 0x%x", s, m);

        /* names and "0x" are case-insensitive: both foldings agree */
        char *up = strdup(s), *low = strdup(s);
        if (!up || !low)
                abort();
        for (char *p = up, *q = low; *p; p++, q++) {
                *p = (char) toupper((unsigned char) *p);
                *q = (char) tolower((unsigned char) *q);
        }
        for (int i = 0; i < 2; i++) {
                const char *f = i ? up : low;
                int r2 = pcreset_scope_parse(f, &m2);
                FUZZ_CHECK(r2 == r && (r < 0 || m2 == m), "'%s' -> %d/0x%x but '%s' -> %d/0x%x", s, r,
                           r ? 0 : m, f, r2, r2 ? 0 : m2);
        }
        free(up);
        free(low);

        /* numbers: decimal or 0x-hex, all digits, no sign, no spaces */
        if (s[0] >= '0' && s[0] <= '9') {
                bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
                const char *digits = s + (hex ? 2 : 0);
                bool ok = *digits && strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789") == strlen(digits);
                if (ok) {
                        errno = 0;
                        char *end;
                        unsigned long long v = strtoull(digits, &end, hex ? 16 : 10);
                        ok = errno == 0 && *end == '\0' && v <= UINT32_MAX &&
                             pcreset_scope_mask_valid((uint32_t) v);
                        if (ok && r == 0)
                                FUZZ_CHECK(m == v, "'%s' parses to 0x%x, expected 0x%llx", s, m, v);
                }
                FUZZ_CHECK(ok == (r == 0), "'%s': parse says %d, the grammar says %s", s, r, ok ? "valid" : "invalid");
        }
}

static void check_format(uint32_t m, size_t small) {
        char full[FULL];
        uint32_t back;

        pcreset_scope_format(m, full, sizeof full);
        FUZZ_CHECK(strlen(full) < FULL - 1, "0x%x: format needs more than %d bytes", m, FULL);

        int r = pcreset_scope_parse(full, &back);
        if (pcreset_scope_mask_valid(m))
                FUZZ_CHECK(r == 0 && back == m, "0x%x formats as '%s', which parses to %d/0x%x", m, full, r,
                           r ? 0 : back);
        else
                FUZZ_CHECK(r < 0, "invalid 0x%x formats as '%s', which parses to 0x%x", m, full, back);

        /* truncated: whole names only, a prefix of the full text */
        char *buf = malloc(small ?: 1);
        if (!buf)
                abort();
        memset(buf, 'X', small ?: 1);
        FUZZ_CHECK(pcreset_scope_format(m, buf, small) == buf, "format returned another buffer");
        if (small > 0) {
                size_t n = strnlen(buf, small);
                FUZZ_CHECK(n < small, "0x%x in %zu bytes: not terminated", m, small);
                FUZZ_CHECK(strncmp(buf, full, n) == 0, "0x%x in %zu bytes: '%s' is not a prefix of '%s'", m, small,
                           buf, full);
                if (m != PCRESET_SCOPE_ANY && m != 0)
                        FUZZ_CHECK(n == 0 || full[n] == '\0' || full[n] == ',',
                                   "0x%x in %zu bytes: '%s' cuts a name of '%s'", m, small, buf, full);
        }
        free(buf);

        /* bit names: exactly the seven known single bits */
        bool single = m && !(m & (m - 1));
        const char *name = pcreset_scope_bit_name(m);
        FUZZ_CHECK(!!name == (single && (m & PCRESET_SCOPE_KNOWN)), "bit_name(0x%x) = %s", m, name ?: "NULL");
        if (name)
                FUZZ_CHECK(strcmp(name, full) == 0, "bit_name(0x%x) = %s but format says %s", m, name, full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        uint32_t m = fuzz_u32(&in);
        size_t small = fuzz_u8(&in) % 64;
        char *s = fuzz_bytes(&in, in.size, NULL);

        check_format(m, small);
        check_parse(s);
        free(s);
        return 0;
}
