/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oci-hook's input: the OCI state on stdin, <bundle>/config.json and the
 * annotations in them. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "oci-hook.h"

#define STATE_MAX  ((size_t) 1 << 20)   /* the state is a few hundred bytes */
#define CONFIG_MAX ((size_t) 16 << 20)  /* config.json: kilobytes, seldom more */

/* Reads fd to the end, at most max bytes; NUL-terminated. */
static int read_all(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                if (allocated - size < 4096) {
                        size_t want = allocated ? allocated * 2 : 16384;
                        char *b = realloc(buf, want + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = want;
                }
                ssize_t n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = '\0';
        *ret = buf;
        buf = NULL;
        *ret_size = size;
        return 0;
}

/* Parses text as one JSON object (nothing after it but white space). */
static json_object *parse_json_object(const char *text, size_t size, const char **ret_error) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!tok || !text) {
                if (tok)
                        json_tokener_free(tok);
                *ret_error = strerror(ENOMEM);
                return NULL;
        }
        if (memchr(text, '\0', size)) {
                json_tokener_free(tok);
                *ret_error = "it contains a NUL byte";
                return NULL;
        }
        o = json_tokener_parse_ex(tok, text, (int) size);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || e != json_tokener_success) {
                /* json_tokener_continue: the text ended inside a value */
                *ret_error = e == json_tokener_continue ? "it ends in the middle of a JSON value"
                                                        : json_tokener_error_desc(e);
                if (o)
                        json_object_put(o);
                return NULL;
        }
        for (size_t i = used; i < size; i++)
                if (!strchr(" \t\r\n", text[i])) {
                        json_object_put(o);
                        *ret_error = "there is more after the JSON value";
                        return NULL;
                }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *ret_error = "it is not a JSON object";
                return NULL;
        }
        return o;
}

json_object *json_get(json_object *o, const char *key, json_type type) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *json_get_string(json_object *o, const char *key) {
        json_object *v = json_get(o, key, json_type_string);

        return v ? json_object_get_string(v) : NULL;
}

/* The state's annotations first (what the runtime says now), then the
 * bundle's. */
const char *hook_annotation(const Hook *h, const char *key) {
        const char *v = json_get_string(json_get(h->state, "annotations", json_type_object), key);

        return v ?: json_get_string(json_get(h->config, "annotations", json_type_object), key);
}

/* Bad input is a usage error: the runtime (or whoever ran us) did not give
 * us an OCI state. Keeps the message in h->message; returns -EINVAL. */
__attribute__((format(printf, 2, 3)))
static int usage_fail(Hook *h, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        set_errorv(&h->message, -EINVAL, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int hook_read_state(Hook *h) {
        _cleanup_free_ char *text = NULL;
        const char *why = NULL;
        size_t size = 0;
        int r;

        r = read_all(STDIN_FILENO, STATE_MAX, &text, &size);
        if (r < 0)
                return usage_fail(h, "cannot read the container state from stdin: %s",
                                  r == -EFBIG ? "it is larger than 1 MiB" : strerror(-r));
        h->state = parse_json_object(text, size, &why);
        if (!h->state)
                return usage_fail(h, "stdin is not an OCI container state: %s", why);
        h->id = json_get_string(h->state, "id");
        h->bundle = json_get_string(h->state, "bundle");
        h->status = json_get_string(h->state, "status");
        json_object *pid = json_get(h->state, "pid", json_type_int);
        h->pid = pid ? json_object_get_int64(pid) : 0;
        if (isempty(h->id) || isempty(h->bundle))
                return usage_fail(h, "stdin is not an OCI container state: it has no %s",
                                  isempty(h->id) ? "\"id\"" : "\"bundle\"");
        if (h->bundle[0] != '/')
                return usage_fail(h, "the container state's bundle '%s' is not an absolute path", h->bundle);
        return 0;
}

int hook_read_config(Hook *h) {
        _cleanup_free_ char *path = strjoin_printf("%s/config.json", h->bundle), *text = NULL;
        _cleanup_close_ int fd = -1;
        const char *why = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                hook_fail(h, SD_BUS_ERROR_FILE_NOT_FOUND, PCRESETCTL_EXIT_FAILURE, "cannot open %s: %s", path,
                          strerror(-r));
                return r;
        }
        r = read_all(fd, CONFIG_MAX, &text, &size);
        if (r < 0) {
                hook_fail(h, SD_BUS_ERROR_IO_ERROR, PCRESETCTL_EXIT_FAILURE, "cannot read %s: %s", path,
                          r == -EFBIG ? "it is larger than 16 MiB" : strerror(-r));
                return r;
        }
        h->config = parse_json_object(text, size, &why);
        if (!h->config) {
                hook_fail(h, SD_BUS_ERROR_INVALID_ARGS, PCRESETCTL_EXIT_FAILURE,
                          "%s is not an OCI runtime configuration: %s", path, why);
                return -EINVAL;
        }
        return 0;
}
