/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "log.h"
#include "statefile.h"
#include "util.h"

int state_file_parse_uid(const char *s, uid_t *ret) {
        char *end;
        if (*s < '0' || *s > '9' || strlen(s) > 10)
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v >= (unsigned long long) (uid_t) -1)
                return -EINVAL;
        *ret = (uid_t) v;
        return 0;
}

int state_file_parse_id(const char *s, uint16_t *ret) {
        if (strlen(s) != 4 || strspn(s, "0123456789abcdefABCDEF") != 4)
                return -EINVAL;
        *ret = (uint16_t) strtoul(s, NULL, 16);
        return 0;
}

int state_file_read(const char *path, unsigned max_lines, size_t line_max, StateFileLine cb, void *userdata,
                    unsigned *ret_bad) {
        /* O_NONBLOCK: a FIFO put in our place must not hang the start */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        _cleanup_free_ char *line = NULL;
        unsigned lineno = 0, bad = 0;
        size_t cap = 0;
        struct stat st;

        if (ret_bad)
                *ret_bad = 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EBADF;  /* only a regular file is ours */
        }
        _cleanup_fclose_ FILE *f = fdopen(fd, "re");
        if (!f) {
                int r = -(errno ?: ENOMEM);
                close(fd);
                return r;
        }
        for (ssize_t n; (n = getline(&line, &cap, f)) >= 0;) {
                if (++lineno > max_lines) {
                        log_warning("%s: more than %u lines; ignoring the rest", path, max_lines);
                        break;
                }
                if (line[0] == '#' || line[0] == '\n')
                        continue;
                if ((size_t) n > line_max || memchr(line, '\0', (size_t) n)) {
                        bad++;
                        continue;
                }
                if (n > 0 && line[n - 1] == '\n')
                        line[n - 1] = '\0';
                int k = cb(userdata, line, lineno);
                if (k == -ENOMEM)
                        return k;
                if (k == 1)
                        break;
                bad += k < 0;
        }
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}
