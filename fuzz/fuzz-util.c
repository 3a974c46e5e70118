/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-util.h"

/* Sanitizer settings built into every target, so a crasher replays the same
 * way by hand (./fuzz-caps crash-…) as under fuzz/run. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) {
        return "halt_on_error=1:print_stacktrace=1";
}
/* libpci 3.9 (Debian 12) leaks in its own PARENT lookups and in udev_new()
 * per name lookup: not ours; the same list as tests/fixtures/lsan.supp. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:libpci.so\nleak:udev_new\n";
}

static FILE *report;

/* Runs before main(), so before libFuzzer's -close_fd_mask closes fd 2. */
__attribute__((constructor)) static void open_report(void) {
        int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        report = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (report)
                setvbuf(report, NULL, _IONBF, 0);
}

void fuzz_report(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(report ?: stderr, fmt, ap);
        va_end(ap);
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

#define MAX_TMPDIRS 8
static char *tmpdirs[MAX_TMPDIRS];
static size_t n_tmpdirs;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void remove_tmpdirs(void) {
        for (size_t i = 0; i < n_tmpdirs; i++) {
                (void) nftw(tmpdirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
                free(tmpdirs[i]);
        }
        n_tmpdirs = 0;
}

char *fuzz_make_tmpdir(const char *prefix) {
        const char *base = getenv("TMPDIR");
        char *path;

        if (!base || !*base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        if (n_tmpdirs >= MAX_TMPDIRS || asprintf(&path, "%s/%s-XXXXXX", base, prefix) < 0)
                abort();
        if (!mkdtemp(path)) {
                fprintf(stderr, "mkdtemp %s: %s\n", path, strerror(errno));
                abort();
        }
        if (n_tmpdirs == 0)
                atexit(remove_tmpdirs);
        tmpdirs[n_tmpdirs++] = path;
        return path;
}

void fuzz_write_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size)) {
                fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
                abort();
        }
        close(fd);
}

uint8_t fuzz_u8(FuzzInput *in) {
        if (in->size == 0)
                return 0;
        in->size--;
        return *in->data++;
}

uint32_t fuzz_u32(FuzzInput *in) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v |= (uint32_t) fuzz_u8(in) << (8 * i);
        return v;
}

char *fuzz_bytes(FuzzInput *in, size_t n, size_t *ret_len) {
        if (n > in->size)
                n = in->size;
        char *s = fuzz_strndup(in->data, n);
        in->data += n;
        in->size -= n;
        if (ret_len)
                *ret_len = n;
        return s;
}
