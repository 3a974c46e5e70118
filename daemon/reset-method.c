/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "log.h"
#include "pcreset1.h"
#include "reset-method.h"
#include "util.h"

/* The admin's reset_method of each device a worker has narrowed right now.
 * Readers take the lock around their read of reset_method, and workers
 * register before narrowing and unregister after restoring, so a reader
 * sees the admin's list, never ours (nor a half-written one). */
typedef struct Narrowed Narrowed;
struct Narrowed {
        char *syspath;
        char *orig;
        Narrowed *next;
};
static pthread_mutex_t narrowed_lock = PTHREAD_MUTEX_INITIALIZER;
static Narrowed *narrowed;

static const Narrowed *narrowed_find_locked(const char *syspath) {
        for (Narrowed *n = narrowed; n; n = n->next)
                if (streq(n->syspath, syspath))
                        return n;
        return NULL;
}

/* Reads the admin's list and registers it; a registered device's reset_method
 * is ours to change until narrowed_unregister(). */
static int narrowed_register(const char *syspath, const char *rm, char **ret_orig) {
        _cleanup_free_ char *orig = NULL;
        pthread_mutex_lock(&narrowed_lock);
        /* still registered: an earlier restore failed, and the file holds
         * our narrowed list, not the admin's: the admin's is this one */
        const Narrowed *stale = narrowed_find_locked(syspath);
        if (stale) {
                int r = (*ret_orig = strdup(stale->orig)) ? 0 : -ENOMEM;
                pthread_mutex_unlock(&narrowed_lock);
                return r;
        }
        int r = read_one_line_file(rm, &orig);
        Narrowed *n = r >= 0 ? calloc(1, sizeof *n) : NULL;
        if (r >= 0 && (!n || !(n->syspath = strdup(syspath)) || !(n->orig = strdup(orig)))) {
                if (n)
                        free(n->syspath);
                free(n);
                r = -ENOMEM;
        } else if (r >= 0) {
                n->next = narrowed;
                narrowed = n;
                *ret_orig = TAKE_PTR(orig);
        }
        pthread_mutex_unlock(&narrowed_lock);
        return r;
}

static void narrowed_unregister(const char *syspath) {
        pthread_mutex_lock(&narrowed_lock);
        for (Narrowed **n = &narrowed; *n; n = &(*n)->next)
                if (streq((*n)->syspath, syspath)) {
                        Narrowed *dead = *n;
                        *n = dead->next;
                        free(dead->syspath);
                        free(dead->orig);
                        free(dead);
                        break;
                }
        pthread_mutex_unlock(&narrowed_lock);
}

int reset_method_read(const char *syspath, char ***ret) {
        return reset_method_read_at(-1, NULL, syspath, ret);
}

int reset_method_read_at(int dirfd, const char *relname, const char *syspath, char ***ret) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        char rel[PATH_MAX];
        int r;

        if (dirfd >= 0 && snprintf(rel, sizeof rel, "%s/reset_method", relname) >= (int) sizeof rel)
                dirfd = -1;
        /* reset_method is an attribute the kernel answers from memory: a
         * short read under the lock never waits for a reset */
        pthread_mutex_lock(&narrowed_lock);
        const Narrowed *n = narrowed_find_locked(syspath);
        if (n)
                r = (text = strdup(n->orig)) ? 0 : -ENOMEM;
        else {
                /* a failed short lookup is asked again by the full path */
                r = dirfd >= 0 ? read_one_line_file_at(dirfd, rel, &text) : -EBADF;
                if (r < 0)
                        r = (path = strjoin_printf("%s/reset_method", syspath)) ? read_one_line_file(path, &text)
                                                                                : -ENOMEM;
        }
        pthread_mutex_unlock(&narrowed_lock);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        return strv_split(text, " \t\n", ret);
}

/* Writes the admin's list back; a list holding a method the kernel no
 * longer accepts (reset_method is probed once, at enumeration, and can be
 * stale) is refused whole with EINVAL: then "default" re-probes, which is
 * the closest to what was there. */
static int write_back(const char *path, const char *name, const char *orig) {
        int r = write_string_file(path, orig[0] ? orig : "\n");
        if (r != -EINVAL)
                return r;
        log_warning("%s: the kernel refused to restore reset_method '%s' (stale entry); writing 'default' to re-probe",
                    name, orig);
        return write_string_file(path, "default");
}

void reset_method_narrowing_done(ResetMethodNarrowing *n) {
        if (n->active)
                (void) reset_method_restore(n);
        free(n->name);
        free(n->syspath);
        free(n->path);
        free(n->record);
        free(n->orig);
        *n = (ResetMethodNarrowing) {};
}

int reset_method_narrow(const char *state_dir, const char *name, const char *syspath, const char *method,
                        ResetMethodNarrowing *ret, char **ret_why) {
        ResetMethodNarrowing *n = ret;
        int r;

        *n = (ResetMethodNarrowing) {
                .name = strdup(name),
                .syspath = strdup(syspath),
                .path = strjoin_printf("%s/reset_method", syspath),
                .record = strjoin_printf("%s/inflight/%s", state_dir, name),
        };
        if (!n->name || !n->syspath || !n->path || !n->record)
                return set_errorf(ret_why, -ENOMEM, "out of memory");
        r = narrowed_register(syspath, n->path, &n->orig);
        if (r < 0)
                return set_errorf(ret_why, r, "cannot read the reset_method of %s: %s", name, strerror(-r));
        r = write_file_atomic(n->record, n->orig);
        if (r < 0) {
                /* without the record a crash could leave the method changed */
                narrowed_unregister(syspath);
                return set_errorf(ret_why, r, "cannot record the reset_method of %s in %s: %s", name, n->record,
                                  strerror(-r));
        }
        n->active = true;
        r = write_string_file(n->path, method);
        if (r < 0) {
                (void) reset_method_restore(n);
                return set_errorf(ret_why, r, "the kernel refused to select reset method '%s' for %s: %s", method,
                                  name, strerror(-r));
        }
        return 0;
}

int reset_method_restore(ResetMethodNarrowing *n) {
        int r;

        if (!n->active)
                return 0;
        n->active = false;
        r = write_back(n->path, n->name, n->orig);
        if (r < 0) {
                /* keep both the record and the registration: readers keep
                 * seeing the admin's list, the next reset of this device
                 * narrows from it (not from our narrowed one), and the
                 * next start repairs it if nobody does before */
                log_error_errno(r, "%s: cannot restore reset_method '%s': %m", n->name, n->orig);
                return r;
        }
        narrowed_unregister(n->syspath);
        if (unlink(n->record) < 0)
                log_warning("%s: cannot remove %s: %m", n->name, n->record);
        return r;
}

int reset_method_repair(const char *sysfs_root, const char *state_dir) {
        _cleanup_free_ char *dir = strjoin_printf("%s/inflight", state_dir);
        int n = 0;

        if (!dir)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                PciAddress a;
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *rec = strjoin_printf("%s/%s", dir, de->d_name), *orig = NULL;
                if (!rec)
                        return -ENOMEM;
                if (pci_address_parse(de->d_name, &a) < 0) {
                        /* a temp file of an interrupted atomic write */
                        (void) unlink(rec);
                        continue;
                }
                _cleanup_free_ char *rm = strjoin_printf("%s/bus/pci/devices/%s/reset_method", sysfs_root,
                                                         de->d_name);
                if (!rm || read_one_line_file(rec, &orig) < 0)
                        continue;
                r = write_back(rm, de->d_name, orig);
                if (r == -ENOENT)
                        log_notice("%s: gone since the interrupted reset; nothing to restore", de->d_name);
                else if (r < 0) {
                        log_error_errno(r, "%s: cannot restore reset_method '%s' left by an interrupted reset: %m",
                                  de->d_name, orig);
                        continue;
                } else {
                        log_notice("%s: restored reset_method '%s' left changed by an interrupted reset",
                                   de->d_name, orig);
                        n++;
                }
                (void) unlink(rec);
        }
        return n;
}
