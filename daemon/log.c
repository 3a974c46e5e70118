/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

static int max_level = LOG_INFO;
static bool to_journal;
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;

/* JOURNAL_STREAM names the device:inode of the journal socket stderr is
 * connected to; only then is the journal the right place. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_open(void) {
        to_journal = stderr_is_journal();
}

void log_set_max_level(int prio) {
        max_level = prio;
}

int log_get_max_level(void) {
        return max_level;
}

static const char *prio_prefix(int prio) {
        switch (prio) {
        case LOG_DEBUG:   return "debug: ";
        case LOG_INFO:
        case LOG_NOTICE:  return "";
        case LOG_WARNING: return "warning: ";
        default:          return "error: ";
        }
}

/* err: 0, or the errno the record is about (an ERRNO= field; %m is its
 * text, since the message is formatted with errno = err). */
__attribute__((format(printf, 3, 0)))
static void log_internal(int prio, int err, const char *fmt, va_list ap) {
        if (prio > max_level)
                return;
        int saved = errno;
        char buf[2048];

        errno = err;
        vsnprintf(buf, sizeof buf, fmt, ap);
        if (to_journal) {
                if (err > 0)
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio, "ERRNO=%d", err, NULL);
                else
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio, NULL);
        } else {
                pthread_mutex_lock(&stderr_lock);
                if (err > 0)
                        fprintf(stderr, "pcresetd: %s%s [ERRNO=%d]\n", prio_prefix(prio), buf, err);
                else
                        fprintf(stderr, "pcresetd: %s%s\n", prio_prefix(prio), buf);
                pthread_mutex_unlock(&stderr_lock);
        }
        errno = saved;
}

void log_fullv(int prio, const char *fmt, va_list ap) {
        log_internal(prio, 0, fmt, ap);
}

void log_full(int prio, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_internal(prio, 0, fmt, ap);
        va_end(ap);
}

int log_full_errno(int prio, int err, const char *fmt, ...) {
        va_list ap;
        err = err < 0 ? -err : err;
        va_start(ap, fmt);
        log_internal(prio, err, fmt, ap);
        va_end(ap);
        return -err;
}

void log_struct_fields(int prio, const char *message_id, const char *message, char *const *fields) {
        size_t n = strv_length(fields);

        if (prio > max_level)
                return;
        if (to_journal) {
                _cleanup_free_ struct iovec *iov = calloc(n + 3, sizeof(struct iovec));
                char p[16], *mid = NULL, *msg = NULL;
                size_t k = 0;

                snprintf(p, sizeof p, "PRIORITY=%d", prio);
                mid = strjoin_printf("MESSAGE_ID=%s", message_id);
                msg = strjoin_printf("MESSAGE=%s", message);
                if (iov && mid && msg) {
                        iov[k++] = (struct iovec) { p, strlen(p) };
                        iov[k++] = (struct iovec) { mid, strlen(mid) };
                        iov[k++] = (struct iovec) { msg, strlen(msg) };
                        for (size_t i = 0; i < n; i++)
                                iov[k++] = (struct iovec) { fields[i], strlen(fields[i]) };
                        sd_journal_sendv(iov, (int) k);
                }
                free(mid);
                free(msg);
                return;
        }

        /* one write(2) per record: stderr is unbuffered */
        char *line = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&line, &size);
        if (!f)
                return;
        fprintf(f, "pcresetd: %s%s [MESSAGE_ID=%s", prio_prefix(prio), message, message_id);
        for (size_t i = 0; i < n; i++)
                fprintf(f, " %s", fields[i]);
        fputs("]\n", f);
        if (fclose(f) == 0) {
                pthread_mutex_lock(&stderr_lock);
                (void) !write(STDERR_FILENO, line, size);
                pthread_mutex_unlock(&stderr_lock);
        }
        free(line);
}
