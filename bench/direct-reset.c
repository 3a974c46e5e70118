/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * direct-reset DEVDIR METHOD COUNT OUTFILE
 *
 * The baseline of the call-overhead and simulated-reset cases: the sysfs
 * writes pcresetd does for a kernel-method reset, done directly, with
 * nothing around them. Each iteration reads DEVDIR/reset_method, writes
 * METHOD to it, writes "1" to DEVDIR/reset, and writes the list it read
 * back; it is timed with CLOCK_MONOTONIC and written to OUTFILE as one line
 * "START_NS END_NS" (CLOCK_MONOTONIC, comparable with the FUSE log). Exit 0,
 * or 1 with a message on the first failing call.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int read_line(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        return 0;
}

static int write_string(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        size_t len = strlen(s);
        ssize_t n = write(fd, s, len);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        return (size_t) n == len ? 0 : -EIO;
}

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: %s DEVDIR METHOD COUNT OUTFILE\n", argv[0]);
                return 2;
        }
        char rm[4096], reset[4096], orig[4096];
        snprintf(rm, sizeof rm, "%s/reset_method", argv[1]);
        snprintf(reset, sizeof reset, "%s/reset", argv[1]);
        long count = strtol(argv[3], NULL, 10);
        uint64_t *t = calloc(count > 0 ? 2 * (size_t) count : 1, sizeof *t);
        if (count <= 0 || !t) {
                fprintf(stderr, "%s: bad COUNT\n", argv[0]);
                return 2;
        }

        for (long i = 0; i < count; i++) {
                uint64_t t0 = now_ns();
                int r = read_line(rm, orig, sizeof orig);
                if (r >= 0)
                        r = write_string(rm, argv[2]);
                if (r >= 0)
                        r = write_string(reset, "1");
                int q = write_string(rm, orig[0] ? orig : "\n");
                t[2 * i] = t0;
                t[2 * i + 1] = now_ns();
                if (r < 0 || q < 0) {
                        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(-(r < 0 ? r : q)));
                        return 1;
                }
        }

        FILE *f = fopen(argv[4], "we");
        if (!f) {
                fprintf(stderr, "%s: %s: %s\n", argv[0], argv[4], strerror(errno));
                return 1;
        }
        for (long i = 0; i < count; i++)
                fprintf(f, "%" PRIu64 " %" PRIu64 "\n", t[2 * i], t[2 * i + 1]);
        if (fclose(f) != 0) {
                fprintf(stderr, "%s: %s: %s\n", argv[0], argv[4], strerror(errno));
                return 1;
        }
        free(t);
        return 0;
}
