/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config_load() on a file holding the input: the admin's pcresetd.conf goes
 * through inih and our key handlers. Checks:
 *   - any bytes give either success with every setting inside its
 *     documented range, or -EINVAL naming a line of the file with a message;
 *   - a line longer than inih's buffer (199 bytes with its newline) is
 *     refused, not read in pieces;
 *   - the same file with every line commented out ("#" prepended, as an
 *     admin disables settings, and as the shipped file comes) loads as the
 *     defaults, or is refused for a long line or a NUL byte: no part of a
 *     comment is ever read as a setting;
 *   - nothing leaks either way (LeakSanitizer).
 */

#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz-util.h"
#include "util.h"

/* inih's line buffer as Debian builds it (INI_MAX_LINE): fgets() gets at
 * most 199 bytes, a newline included */
#define INIH_LINE_MAX 200

static char *path, *commented_path;

/* Lines and the longest one, in bytes without the newline. */
static void measure_lines(const uint8_t *data, size_t size, size_t *ret_lines, size_t *ret_longest) {
        size_t lines = 1, longest = 0, len = 0;
        for (size_t i = 0; i < size; i++) {
                if (data[i] != '\n') {
                        len++;
                        continue;
                }
                if (len > longest)
                        longest = len;
                len = 0;
                if (i + 1 < size)
                        lines++;
        }
        *ret_lines = lines;
        *ret_longest = len > longest ? len : longest;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *dir = fuzz_make_tmpdir("pcreset-fuzz-config");
        if (asprintf(&path, "%s/pcresetd.conf", dir) < 0 || asprintf(&commented_path, "%s/commented.conf", dir) < 0)
                abort();
        return 0;
}

static void check_commented_out(const uint8_t *data, size_t size) {
        /* at most one '#' per input byte, plus the last line's */
        uint8_t *text = malloc(2 * size + 2);
        size_t n = 0;
        Config c, defaults;
        int line;
        char *message = NULL;

        if (!text)
                abort();
        text[n++] = '#';
        for (size_t i = 0; i < size; i++) {
                text[n++] = data[i];
                if (data[i] == '\n' && i + 1 < size)
                        text[n++] = '#';
        }
        fuzz_write_file(commented_path, text, n);

        /* zeroed first, so the padding memcmp() sees is the same in both */
        memset(&c, 0, sizeof c);
        memset(&defaults, 0, sizeof defaults);
        config_init(&c);
        config_init(&defaults);
        int r = config_load(&c, commented_path, true, &line, &message);
        size_t lines, longest;
        measure_lines(text, n, &lines, &longest);
        /* refusing a line that does not fit, or a NUL byte, is fine */
        bool refusable = longest >= INIH_LINE_MAX - 1 || memchr(text, '\0', n);
        FUZZ_CHECK(r == 0 || (r == -EINVAL && refusable),
                   "with every line commented out (longest %zu bytes): line %d: %s", longest, line,
                   message ?: strerror(-r));

        /* every setting, also ones added later: the scalars bytewise */
        char *stubs = strv_join(c.stub_drivers, " "), *default_stubs = strv_join(defaults.stub_drivers, " ");
        Config a = c, b = defaults;
        a.stub_drivers = b.stub_drivers = NULL;
        FUZZ_CHECK(stubs && default_stubs && strcmp(stubs, default_stubs) == 0 && memcmp(&a, &b, sizeof a) == 0,
                   "a comment changed a setting: MaxQueuedPerUser=%u MaxParallelResets=%u MaxResetsPerMinute=%u "
                   "MaxQueueWaitSec=%u PolkitTimeoutSec=%u UseResetSubordinate=%d UserspaceBusReset=%d "
                   "DeviceReadyTimeoutSec=%u StubDrivers=%s", c.max_queued_per_user, c.max_parallel,
                   c.max_per_minute, c.max_wait_sec, c.polkit_timeout_sec, c.use_reset_subordinate,
                   c.userspace_bus_reset, c.ready_timeout_sec, stubs);
        free(stubs);
        free(default_stubs);
        free(message);
        config_done(&c);
        config_done(&defaults);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Config c;
        int line = -1;
        char *message = NULL;

        fuzz_write_file(path, data, size);
        config_init(&c);
        FUZZ_CHECK(c.stub_drivers, "config_init: no default stub drivers");

        size_t n_lines, longest;
        measure_lines(data, size, &n_lines, &longest);

        int r = config_load(&c, path, true, &line, &message);
        /* a line of 199 bytes fits only as the last one, without newline */
        FUZZ_CHECK(longest < INIH_LINE_MAX || r == -EINVAL, "a line of %zu bytes was accepted", longest);
        if (r == 0) {
                FUZZ_CHECK(line == 0 && !message, "success with line %d, message %s", line, message);
                FUZZ_CHECK(c.max_queued_per_user >= 1 && c.max_queued_per_user <= 100000, "MaxQueuedPerUser=%u",
                           c.max_queued_per_user);
                FUZZ_CHECK(c.max_parallel >= 1 && c.max_parallel <= 1024, "MaxParallelResets=%u", c.max_parallel);
                FUZZ_CHECK(c.max_per_minute >= 1 && c.max_per_minute <= 100000, "MaxResetsPerMinute=%u",
                           c.max_per_minute);
                FUZZ_CHECK(c.max_wait_sec >= 1 && c.max_wait_sec <= 86400, "MaxQueueWaitSec=%u", c.max_wait_sec);
                FUZZ_CHECK(c.polkit_timeout_sec >= 1 && c.polkit_timeout_sec <= 3600, "PolkitTimeoutSec=%u",
                           c.polkit_timeout_sec);
                FUZZ_CHECK(c.ready_timeout_sec >= 1 && c.ready_timeout_sec <= 3600, "DeviceReadyTimeoutSec=%u",
                           c.ready_timeout_sec);
                STRV_FOREACH(d, c.stub_drivers)
                        FUZZ_CHECK(**d && !strpbrk(*d, " \t"), "stub driver '%s'", *d);
        } else if (r == -EINVAL) {
                /* inih counts lines from 1; it can't point past the last one */
                FUZZ_CHECK(line >= 1 && (size_t) line <= n_lines, "error on line %d of %zu", line, n_lines);
                FUZZ_CHECK(message && *message, "error on line %d without a message", line);
        } else
                /* -ENOMEM/-EIO: nothing in a regular file should cause them */
                FUZZ_CHECK(false, "config_load: %s", strerror(-r));

        /* what the ownership rules ask of the result */
        (void) config_is_stub_driver(&c, "vfio-pci");
        (void) config_is_stub_driver(&c, "mlx5_vfio_pci");
        (void) config_is_stub_driver(&c, "e1000e");
        free(message);
        config_done(&c);

        check_commented_out(data, size);
        return 0;
}
