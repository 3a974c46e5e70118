/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Helpers shared by the unit tests: a fake host in a temp dir. */

#include <glib.h>
#include <glib/gstdio.h>

#include "faketree.h"
#include "util.h"

typedef struct FakeHost {
        char *root;      /* temp dir: root/sys, root/proc, root/dev */
        char *sys, *proc, *dev, *state;
} FakeHost;

static inline FakeHost *fake_host_new(const char *desc) {
        g_autoptr(GError) error = NULL;
        FakeHost *h = g_new0(FakeHost, 1);
        h->root = g_dir_make_tmp("pcreset-unit-XXXXXX", &error);
        g_assert_no_error(error);
        g_assert_cmpint(faketree_build_from_string(desc, h->root, &error), ==, 0);
        g_assert_no_error(error);
        h->sys = g_build_filename(h->root, "sys", NULL);
        h->proc = g_build_filename(h->root, "proc", NULL);
        h->dev = g_build_filename(h->root, "dev", NULL);
        h->state = g_build_filename(h->root, "state", NULL);
        g_assert_cmpint(g_mkdir_with_parents(h->state, 0700), ==, 0);
        return h;
}

static inline char *fake_host_attr(FakeHost *h, const char *addr, const char *attr) {
        g_autofree char *dir = faketree_device_dir(h->root, addr);
        return g_build_filename(dir, attr, NULL);
}

static inline char *fake_host_read(FakeHost *h, const char *addr, const char *attr) {
        g_autofree char *p = fake_host_attr(h, addr, attr);
        char *s = NULL;
        g_assert_true(g_file_get_contents(p, &s, NULL, NULL));
        return g_strchomp(s);
}

static inline void fake_host_free(FakeHost *h) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", h->root);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(h->root);
        g_free(h->sys);
        g_free(h->proc);
        g_free(h->dev);
        g_free(h->state);
        g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHost, fake_host_free)
