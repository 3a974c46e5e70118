/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "util.h"

#define DEFAULT_MAX_QUEUED_PER_USER 32
#define DEFAULT_MAX_PARALLEL 64

void config_init(Config *c) {
        *c = (Config) {
                .max_queued_per_user = DEFAULT_MAX_QUEUED_PER_USER,
                .max_parallel = DEFAULT_MAX_PARALLEL,
                .max_per_minute = 60,
                .max_wait_sec = 300,
                .polkit_timeout_sec = 25,
                .polkit_interactive_timeout_sec = 300,  /* a person typing a password */
                .max_pending_auth_per_user = 8,
                .use_reset_subordinate = true,
                .userspace_bus_reset = true,
                .ready_timeout_sec = 60,   /* the kernel's pci_dev_wait() bound */
                .require_reset_on_handover = true,
        };
        (void) strv_split("vfio-pci pci-stub", " ", &c->stub_drivers);
}

void config_done(Config *c) {
        c->stub_drivers = strv_free(c->stub_drivers);
        for (size_t i = 0; c->retired && c->retired[i]; i++)
                strv_free(c->retired[i]);
        c->retired = mfree(c->retired);
}

typedef struct ParseState {
        Config *config;
        FILE *f;
        int line;          /* line the reader handed out last */
        int error_line;    /* first line a handler or the reader refused */
        char *message;
        char *linebuf;     /* getline's */
        size_t linecap;
} ParseState;

/* Wraps fgets to know which line inih is on, so messages and line agree.
 * inih (as Debian builds it) has a fixed line buffer and would parse the
 * rest of a longer line as a line of its own - a commented-out setting could
 * come back to life - so a line that does not fit ends the parse with an
 * error instead. */
static char *reader(char *buf, int size, void *stream) {
        ParseState *s = stream;

        if (s->error_line)
                return NULL;
        /* getline, not fgets: it says how many bytes a line really has,
         * NUL bytes included */
        ssize_t n = getline(&s->linebuf, &s->linecap, s->f);
        if (n < 0)
                return NULL;
        s->line++;
        if (memchr(s->linebuf, '\0', (size_t) n)) {
                s->error_line = s->line;
                s->message = strdup("line contains a NUL byte");
                return NULL;
        }
        if (n > size - 1) {
                s->error_line = s->line;
                s->message = strjoin_printf("line is longer than %d bytes", size - 2);
                return NULL;
        }
        memcpy(buf, s->linebuf, (size_t) n + 1);
        return buf;
}

__attribute__((format(printf, 2, 3)))
static int refuse(ParseState *s, const char *fmt, ...) {
        if (s->error_line == 0) {
                va_list ap;
                va_start(ap, fmt);
                set_errorv(&s->message, 0, fmt, ap);
                va_end(ap);
                s->error_line = s->line;
        }
        return 0;
}

static int parse_unsigned(const char *v, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
                return -EINVAL;
        *ret = (unsigned) n;
        return 0;
}

/* inih calls this once per key; returning 0 makes ini_parse report the line. */
static int handle_key(void *user, const char *section, const char *name, const char *value) {
        ParseState *s = user;
        Config *c = s->config;

        if (streq(section, "Ownership") && streq(name, "StubDrivers")) {
                char **l = NULL;
                if (strv_split(value, " \t", &l) < 0)
                        return refuse(s, "out of memory");
                strv_free(c->stub_drivers);
                c->stub_drivers = l;
                return 1;
        }
        if (streq(section, "Ownership") && streq(name, "RequireResetOnHandover")) {
                if (parse_boolean(value, &c->require_reset_on_handover) < 0)
                        return refuse(s, "RequireResetOnHandover=%s is not a boolean (yes/no)", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "MaxQueuedPerUser")) {
                if (parse_unsigned(value, 1, 100000, &c->max_queued_per_user) < 0)
                        return refuse(s, "MaxQueuedPerUser=%s is not a number from 1 to 100000", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "MaxParallelResets")) {
                if (parse_unsigned(value, 1, 1024, &c->max_parallel) < 0)
                        return refuse(s, "MaxParallelResets=%s is not a number from 1 to 1024", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "MaxResetsPerMinute")) {
                if (parse_unsigned(value, 1, 100000, &c->max_per_minute) < 0)
                        return refuse(s, "MaxResetsPerMinute=%s is not a number from 1 to 100000", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "MaxQueueWaitSec")) {
                if (parse_unsigned(value, 1, 86400, &c->max_wait_sec) < 0)
                        return refuse(s, "MaxQueueWaitSec=%s is not a number from 1 to 86400", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "PolkitTimeoutSec")) {
                if (parse_unsigned(value, 1, 3600, &c->polkit_timeout_sec) < 0)
                        return refuse(s, "PolkitTimeoutSec=%s is not a number from 1 to 3600", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "PolkitInteractiveTimeoutSec")) {
                if (parse_unsigned(value, 1, 3600, &c->polkit_interactive_timeout_sec) < 0)
                        return refuse(s, "PolkitInteractiveTimeoutSec=%s is not a number from 1 to 3600", value);
                return 1;
        }
        if (streq(section, "Limits") && streq(name, "MaxPendingAuthorizationsPerUser")) {
                if (parse_unsigned(value, 1, POLKIT_MAX_PENDING, &c->max_pending_auth_per_user) < 0)
                        return refuse(s, "MaxPendingAuthorizationsPerUser=%s is not a number from 1 to %d", value,
                                      POLKIT_MAX_PENDING);
                return 1;
        }
        if (streq(section, "Reset") && streq(name, "UseResetSubordinate")) {
                if (parse_boolean(value, &c->use_reset_subordinate) < 0)
                        return refuse(s, "UseResetSubordinate=%s is not a boolean (yes/no)", value);
                return 1;
        }
        if (streq(section, "Reset") && streq(name, "UserspaceBusReset")) {
                if (parse_boolean(value, &c->userspace_bus_reset) < 0)
                        return refuse(s, "UserspaceBusReset=%s is not a boolean (yes/no)", value);
                return 1;
        }
        if (streq(section, "Reset") && streq(name, "DeviceReadyTimeoutSec")) {
                if (parse_unsigned(value, 1, 3600, &c->ready_timeout_sec) < 0)
                        return refuse(s, "DeviceReadyTimeoutSec=%s is not a number from 1 to 3600", value);
                return 1;
        }
        if (streq(section, "Reset") && streq(name, "RequireSameLink")) {
                if (parse_boolean(value, &c->require_same_link) < 0)
                        return refuse(s, "RequireSameLink=%s is not a boolean (yes/no)", value);
                return 1;
        }
        return refuse(s, "unknown setting %s= in section [%s]", name, section);
}

int config_load(Config *c, const char *path, bool must_exist, int *ret_line, char **ret_message) {
        ParseState s = { .config = c };
        struct stat st;

        *ret_line = 0;
        *ret_message = NULL;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                return -errno;
        }

        s.f = fopen(path, "re");
        if (!s.f)
                return -errno;
        int r = ini_parse_stream(reader, &s, handle_key, &s);
        fclose(s.f);
        free(s.linebuf);
        if (r == 0 && s.error_line) /* the reader stopped the parse */
                r = s.error_line;
        if (r == 0)
                return 0;
        if (r < 0) {
                free(s.message);
                return r == -2 ? -ENOMEM : -EIO;
        }
        /* inih reports the first bad line, a syntax error or a refused key */
        *ret_line = r;
        if (s.error_line == r && s.message)
                *ret_message = s.message;
        else {
                free(s.message);
                *ret_message = strdup("syntax error (expected [Section] or Key=Value)");
        }
        return -EINVAL;
}

bool config_is_stub_driver(const Config *c, const char *driver) {
        if (!driver)
                return false;
        char **stubs = __atomic_load_n(&c->stub_drivers, __ATOMIC_ACQUIRE);
        return strv_contains(stubs, driver) || endswith(driver, "_vfio_pci");
}

int config_replace(Config *c, Config *fresh) {
        size_t n = 0;
        while (c->retired && c->retired[n])
                n++;
        char ***r = reallocarray(c->retired, n + 2, sizeof(char **));
        if (!r)
                return -ENOMEM;
        c->retired = r;
        r[n] = c->stub_drivers;
        r[n + 1] = NULL;

        /* the loop's own settings: only the loop reads them */
        c->max_queued_per_user = fresh->max_queued_per_user;
        c->max_parallel = fresh->max_parallel;
        c->max_per_minute = fresh->max_per_minute;
        c->max_wait_sec = fresh->max_wait_sec;
        c->polkit_timeout_sec = fresh->polkit_timeout_sec;
        c->polkit_interactive_timeout_sec = fresh->polkit_interactive_timeout_sec;
        c->max_pending_auth_per_user = fresh->max_pending_auth_per_user;
        c->use_reset_subordinate = fresh->use_reset_subordinate;
        c->userspace_bus_reset = fresh->userspace_bus_reset;
        c->ready_timeout_sec = fresh->ready_timeout_sec;
        c->require_same_link = fresh->require_same_link;
        c->require_reset_on_handover = fresh->require_reset_on_handover;
        /* the one workers read: atomically, the old list kept alive */
        __atomic_store_n(&c->stub_drivers, TAKE_PTR(fresh->stub_drivers), __ATOMIC_RELEASE);
        config_done(fresh);
        return 0;
}
