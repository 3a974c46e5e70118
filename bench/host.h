/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A host: one fake machine in the sealed world of the integration-test
 * harness (tests/integration/harness.h), brought up from a description in
 * --topologies: its sysfs tree and the daemon's state dir on tmpfs, FUSE
 * files that block every reset write for a while bound over chosen devices'
 * reset, and pcresetd started on it with an optional config. Freeing a host
 * stops the daemon and FUSE and unmounts all of it. Here too: what the FUSE
 * log says about the reset writes, the direct baseline (the same sysfs
 * writes done by direct-reset, no daemon) and what /proc says about the
 * daemon.
 */

#include <glib.h>
#include <sys/types.h>

#include "fakereset.h"
#include "harness.h"

typedef struct Host {
        Harness *h;
        FakeReset *fuse;
        char *fuse_log;
        char *config;      /* the daemon's --config file, or NULL */
        gboolean tmpfs_state, tmpfs_root; /* tmpfs mounted on the state dir, the fake root */
} Host;

/* topo: a file in --topologies; specs: "NAME:DELAY_MS" FUSE files, bound
 * over the reset of addrs[i] (both NULL: no FUSE); config_text: the
 * daemon's config, or NULL. The daemon is not started. */
Host *host_new(const char *topo, const char *const *specs, const char *const *addrs, const char *config_text,
               GError **error);
void host_free(Host *x);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Host, host_free)

/* Starts pcresetd with the host's config and the arguments more (NULL-
 * terminated, may be NULL); as harness_start_daemon(). */
int host_start(Host *x, const char *const *more, GError **error);

/* Every entry of the host's FUSE log so far, in file order. */
GPtrArray *fuse_entries(Host *x);
/* FUSE log entries whose name starts with prefix, from index from on,
 * sorted by start; the entries stay log's. */
GPtrArray *entries_with_prefix(GPtrArray *log, guint from, const char *prefix);

/* n direct resets of addr with method (direct-reset); their durations
 * appended to out, and if spans is given, their (start, end) in ms,
 * CLOCK_MONOTONIC, as pairs. FALSE with *err set if it failed. */
gboolean run_direct_spans(Host *x, const char *addr, const char *method, unsigned n, GArray *out, GArray *spans,
                          char **err);
gboolean run_direct(Host *x, const char *addr, const char *method, unsigned n, GArray *out, char **err);

/* From /proc/PID/status, in MB. */
typedef struct Mem {
        double rss_mb, hwm_mb, anon_mb, file_mb;
} Mem;

gboolean read_mem(pid_t pid, Mem *m);
/* Sum over every thread of how many times it was scheduled in (the third
 * field of schedstat): each wakeup counts one. */
gboolean read_runs(pid_t pid, guint64 *ret);
