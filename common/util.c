/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        for (; l && l[n]; n++)
                ;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t i = 0;
        for (; a && b && a[i] && b[i]; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return (!a || !a[i]) && (!b || !b[i]);
}

int strv_extend(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        char **nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_split(const char *s, const char *separators, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                p += strspn(p, separators);
                size_t n = strcspn(p, separators);
                if (n == 0)
                        break;
                _cleanup_free_ char *w = strndup(p, n);
                if (!w || strv_extend(&l, w) < 0)
                        return -ENOMEM;
                p += n;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

char *strv_join(char *const *l, const char *sep) {
        size_t len = 1, k = strlen(sep);
        for (size_t i = 0; l && l[i]; i++)
                len += strlen(l[i]) + k;
        char *r = malloc(len), *p = r;
        if (!r)
                return NULL;
        *p = '\0';
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, l[i]);
        }
        return r;
}

FILE *fopen_at(int dirfd, const char *path) {
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return NULL;
        FILE *f = fdopen(fd, "re");
        if (!f) {
                int e = errno;
                close(fd);
                errno = e;
        }
        return f;
}

int read_one_line_file(const char *path, char **ret) {
        return read_one_line_file_at(AT_FDCWD, path, ret);
}

int read_one_line_file_at(int dirfd, const char *path, char **ret) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int write_string_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        size_t len = strlen(s);
        ssize_t n = write(fd, s, len);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int write_file_atomic(const char *path, const char *contents) {
        return write_file_atomic_mode(path, contents, 0600);
}

int write_file_atomic_mode(const char *path, const char *contents, mode_t mode) {
        _cleanup_free_ char *tmp = strjoin_printf("%s.XXXXXX", path);
        if (!tmp)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(contents);
        int r = 0;
        if (fchmod(fd, mode) < 0 || write(fd, contents, len) != (ssize_t) len || fsync(fd) < 0)
                r = errno ? -errno : -EIO;
        else if (rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int readlink_malloc(const char *path, char **ret) {
        return readlinkat_malloc(AT_FDCWD, path, ret);
}

int readlinkat_malloc(int dirfd, const char *path, char **ret) {
        char buf[4096];
        ssize_t n = readlinkat(dirfd, path, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int readlink_basename(const char *path, char **ret) {
        return readlinkat_basename(AT_FDCWD, path, ret);
}

int readlinkat_basename(int dirfd, const char *path, char **ret) {
        _cleanup_free_ char *t = NULL;
        int r = readlinkat_malloc(dirfd, path, &t);
        if (r < 0)
                return r;
        if (!t)
                return -EIO;
        const char *b = strrchr(t, '/');
        char *s = strdup(b ? b + 1 : t);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

char *strjoin_printf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

int set_errorv(char **ret, int err, const char *fmt, va_list ap) {
        int saved = errno;

        if (!ret)
                return err;
        free(*ret);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        errno = saved;
        return err;
}

int set_errorf(char **ret, int err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        set_errorv(ret, err, fmt, ap);
        va_end(ap);
        return err;
}

int parse_boolean(const char *v, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

uint64_t clock_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

char *escape_text(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1), k = 0;
        char *out = malloc(n * 4 + sizeof("..."));

        if (!out)
                return NULL;
        for (size_t i = 0; i < n && i < max; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\\') {
                        out[k++] = '\\';
                        out[k++] = '\\';
                } else if (c >= 0x20 && c < 0x7f)
                        out[k++] = (char) c;
                else
                        k += (size_t) sprintf(out + k, "\\x%02x", c);
        }
        if (n > max)
                k += (size_t) sprintf(out + k, "...");
        out[k] = '\0';
        return out;
}
