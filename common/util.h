/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small helpers shared by the daemon and the client (common/, linked into
 * both): cleanup attributes, string vectors, whole-file sysfs I/O, the
 * monotonic clock, boolean words and error messages. Every function returns
 * 0 or a negative errno; none of them logs.
 */

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

static inline void freep(void *p) {
        free(*(void **) p);
}
static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Hand over ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool endswith(const char *s, const char *suffix);

char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
/* Same strings in the same order; NULL equals an empty list. */
bool strv_equal(char *const *a, char *const *b);
/* Appends a copy of s; -ENOMEM leaves *l intact. */
int strv_extend(char ***l, const char *s);
/* Splits on any of the separators, dropping empty words. */
int strv_split(const char *s, const char *separators, char ***ret);
/* Joins with sep; NULL on allocation failure. */
char *strv_join(char *const *l, const char *sep);

/* Reads a whole (small) file, strips one trailing newline. The _at and
 * readlinkat_ variants take path relative to dirfd (AT_FDCWD: as above). */
int read_one_line_file(const char *path, char **ret);
int read_one_line_file_at(int dirfd, const char *path, char **ret);
/* One write(2) of the whole string, the way sysfs wants it. */
int write_string_file(const char *path, const char *s);
/* Writes atomically (temp file + fsync + rename) so a crash never leaves a
 * half-written state file. */
int write_file_atomic(const char *path, const char *contents);
/* The same, with the file's mode: write_file_atomic() makes it 0600. */
int write_file_atomic_mode(const char *path, const char *contents, mode_t mode);
/* readlink(2) into a malloc'ed string. */
int readlink_malloc(const char *path, char **ret);
int readlinkat_malloc(int dirfd, const char *path, char **ret);
/* The last path component of a symlink's target, e.g. the driver name. */
int readlink_basename(const char *path, char **ret);
int readlinkat_basename(int dirfd, const char *path, char **ret);
int mkdir_p(const char *path, mode_t mode);
/* fopen(path, "re"), path relative to dirfd; NULL with errno set on
 * failure. */
FILE *fopen_at(int dirfd, const char *path);

/* asprintf that returns NULL on failure. */
char *strjoin_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one way a part hands an error message up: replaces *ret with the
 * formatted message (NULL if that fails) and returns err, for
 * "return set_errorf(&why, -EINVAL, ...)". ret may be NULL (the message is
 * not wanted). errno is left as it was, so %m works in fmt. */
int set_errorf(char **ret, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int set_errorv(char **ret, int err, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Text a caller controls, made safe for a log line: printable ASCII is
 * kept (a backslash doubled), every other byte becomes \xNN, and past max
 * bytes of input the rest is cut with "...". NULL on ENOMEM. */
char *escape_text(const char *s, size_t max);

/* "yes"/"no", "true"/"false", "on"/"off", "1"/"0", any case; -EINVAL
 * otherwise. The config file and the OCI hook's annotations both take these. */
int parse_boolean(const char *v, bool *ret);

#define USEC_PER_SEC  ((uint64_t) 1000000)
#define USEC_PER_MSEC ((uint64_t) 1000)
/* clock in microseconds; now_usec() is CLOCK_MONOTONIC. */
uint64_t clock_usec(clockid_t clock);
static inline uint64_t now_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}
