/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of the pcresetctl tests: a harness with a fake host, pcresetctl
 * runs, the daemon's log, device attributes, JSON. */

#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>

#include "fakereset.h"
#include "faketree.h"
#include "harness.h"

typedef struct Fixture {
        Harness *h;
        FakeReset *fuse;
} Fixture;

static inline void fixture_build(Fixture *f, const char *desc) {
        g_autoptr(GError) error = NULL;
        f->h = harness_new(&error);
        g_assert_no_error(error);
        g_assert_true(harness_build_tree(f->h, desc, &error));
        g_assert_no_error(error);
}

static inline void fixture_teardown(Fixture *f, gconstpointer data) {
        if (harness_daemon_pid(f->h))
                g_assert_cmpint(harness_stop_daemon(f->h), ==, 0);
        if (f->fuse)
                fakereset_stop(f->fuse);
        harness_free(f->h);
}

static inline void start_daemon_args(Fixture *f, const char *const *args) {
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(harness_start_daemon(f->h, args, &error), ==, 0);
        g_assert_no_error(error);
}

static inline void start_daemon(Fixture *f) {
        start_daemon_args(f, NULL);
}

/* pcresetctl with args (NULL-terminated), as user (NULL: root). */
static inline int ctlv(Fixture *f, const char *user, char **out, char **err, const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_ptr_array_add(argv, (char *) g_getenv("PCRESETCTL_BIN"));
        for (size_t i = 0; args[i]; i++)
                g_ptr_array_add(argv, (char *) args[i]);
        g_ptr_array_add(argv, NULL);
        return harness_run_logged(f->h, user, out, err, (const char *const *) argv->pdata);
}

static inline int ctl(Fixture *f, const char *user, char **out, char **err, ...) {
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        va_list ap;
        va_start(ap, err);
        for (const char *a; (a = va_arg(ap, const char *));)
                g_ptr_array_add(args, (char *) a);
        va_end(ap);
        g_ptr_array_add(args, NULL);
        return ctlv(f, user, out, err, (const char *const *) args->pdata);
}

static inline char *daemon_log(Fixture *f) {
        char *s = NULL;
        g_assert_true(g_file_get_contents(harness_daemon_log(f->h), &s, NULL, NULL));
        return s;
}

static inline unsigned count_lines_with(const char *text, const char *a, const char *b) {
        unsigned n = 0;
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                n += strstr(*l, a) && (!b || strstr(*l, b));
        return n;
}

/* The daemon replies before it writes its audit record: a count in its log
 * is waited for (up to 3 s) until it reaches want, then must be exactly
 * that. */
static inline void assert_log_count(Fixture *f, const char *a, const char *b, unsigned want) {
        unsigned n = 0;
        for (int i = 0; i < 60; i++) {
                g_autofree char *log = daemon_log(f);
                n = count_lines_with(log, a, b);
                if (n >= want)
                        break;
                g_usleep(50 * 1000);
        }
        if (n != want) {
                g_autofree char *log = daemon_log(f);
                g_error("expected %u lines with \"%s\"%s%s%s in the daemon's log, found %u:\n%s", want, a,
                        b ? " and \"" : "", b ?: "", b ? "\"" : "", n, log);
        }
}

/* Completed resets of addr in the daemon's log. */
static inline void assert_completed(Fixture *f, const char *addr, unsigned want) {
        g_autofree char *dev = g_strdup_printf("PCRESET_DEVICE=%s ", addr);
        assert_log_count(f, "PCRESET_EVENT=completed", dev, want);
}

static inline char *read_attr(Fixture *f, const char *addr, const char *attr) {
        g_autofree char *dir = faketree_device_dir(harness_fake_root(f->h), addr);
        g_autofree char *p = g_build_filename(dir, attr, NULL);
        char *s = NULL;
        g_assert_true(g_file_get_contents(p, &s, NULL, NULL));
        return g_strchomp(s);
}

#define assert_attr(f, addr, attr, expected) do {                        \
                g_autofree char *_v = read_attr(f, addr, attr);           \
                g_assert_cmpstr(_v, ==, expected);                        \
        } while (0)

#define assert_contains(haystack, needle) do {                                          \
                const char *_h = (haystack), *_n = (needle);                            \
                if (!_h || !strstr(_h, _n))                                             \
                        g_error("%s:%d: expected to find\n  \"%s\"\nin\n%s", __FILE__,  \
                                __LINE__, _n, _h ?: "(null)");                          \
        } while (0)

#define assert_not_contains(haystack, needle) do {                                      \
                const char *_h = (haystack), *_n = (needle);                            \
                if (_h && strstr(_h, _n))                                               \
                        g_error("%s:%d: did not expect\n  \"%s\"\nin\n%s", __FILE__,    \
                                __LINE__, _n, _h);                                      \
        } while (0)

/* The FUSE reset files: specs NAME[:DELAY_MS[:ERRNO]], bound over the
 * reset attribute of addrs[i]. Before the daemon starts. */
static inline void bind_fuse(Fixture *f, const char *const *specs, const char *const *addrs) {
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(harness_dir(f->h), "fuse", NULL);
        g_autofree char *log = g_build_filename(harness_dir(f->h), "fuse.log", NULL);
        f->fuse = fakereset_start(g_getenv("FAKERESET_FUSE_BIN"), mnt, log, specs, &error);
        g_assert_no_error(error);
        for (size_t i = 0; specs[i]; i++) {
                g_auto(GStrv) parts = g_strsplit(specs[i], ":", 2);
                g_autofree char *dir = faketree_device_dir(harness_fake_root(f->h), addrs[i]);
                g_autofree char *target = g_build_filename(dir, "reset", NULL);
                g_assert_cmpint(fakereset_bind(f->fuse, parts[0], target), ==, 0);
        }
}

/* JSON text -> object, asserting it parses. */
static inline json_object *parse_json(const char *text) {
        enum json_tokener_error e = json_tokener_success;
        json_object *o = json_tokener_parse_verbose(text, &e);
        if (!o)
                g_error("not JSON (%s):\n%s", json_tokener_error_desc(e), text);
        return o;
}

static inline json_object *jget(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                g_error("no key \"%s\" in %s", key, json_object_to_json_string(o));
        return v;
}

static inline const char *jstr(json_object *o, const char *key) {
        return json_object_get_string(jget(o, key));
}

static inline int64_t jint(json_object *o, const char *key) {
        return json_object_get_int64(jget(o, key));
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
