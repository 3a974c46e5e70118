/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel's reset_method attribute, which pcresetd narrows to the one
 * planned method for the length of a reset and then gives back.
 *
 * Promises:
 *  - readers (reset_method_read) always see the admin's list, never our
 *    narrowed one nor a half-written one, from any thread;
 *  - before narrowing, the admin's list is recorded in
 *    <state>/inflight/<address> (written atomically); the record goes only
 *    once the list is really back, so a crash or a failed restore is
 *    repaired at the next start (reset_method_repair);
 *  - a list the kernel no longer accepts (it is probed once and can be
 *    stale) is given back as "default", which re-probes.
 */

#include <stdbool.h>

typedef struct ResetMethodNarrowing {
        char *name;      /* the device's address */
        char *syspath;
        char *path;      /* <syspath>/reset_method */
        char *record;    /* <state>/inflight/<address> */
        char *orig;      /* the admin's list */
        bool active;
} ResetMethodNarrowing;

/* The admin's reset_method words (a narrowing in flight is seen through).
 * *ret = NULL when the device has no reset_method. */
int reset_method_read(const char *syspath, char ***ret);
/* The same, read as <relname>/reset_method below dirfd, a directory the
 * caller holds open (-1: none): the short lookup spares walking syspath.
 * When it fails the full path is read, so the answer is the full path's. */
int reset_method_read_at(int dirfd, const char *relname, const char *syspath, char ***ret);

/* Records the admin's list, then writes method. On failure nothing is left
 * changed and *ret_why (malloc'ed) says what failed; -ENOENT: the device is
 * gone. */
int reset_method_narrow(const char *state_dir, const char *name, const char *syspath, const char *method,
                        ResetMethodNarrowing *ret, char **ret_why);
/* Gives the admin's list back and drops the record (kept on failure, for
 * the next start). Logs what it could not do. */
int reset_method_restore(ResetMethodNarrowing *n);
void reset_method_narrowing_done(ResetMethodNarrowing *n);

/* Puts back every list a crashed run left narrowed. Returns the number
 * repaired. */
int reset_method_repair(const char *sysfs_root, const char *state_dir);
