/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "executor.h"
#include "pciconfig.h"
#include "sbr.h"
#include "log.h"
#include "util.h"

static int exec_device_copy(const PciDevice *d, ExecDevice *ret) {
        *ret = (ExecDevice) { .vendor_id = d->vendor_id, .device_id = d->device_id };
        memcpy(ret->name, d->name, sizeof ret->name);
        ret->syspath = strdup(d->syspath);
        return ret->syspath ? 0 : -ENOMEM;
}

int exec_request_from_plan(const ResetPlan *plan, uid_t uid, char *const *proven, ExecRequest *ret) {
        *ret = (ExecRequest) {
                .scope = plan->scope,
                .kernel_method = plan->kernel_method,
                .mechanism = plan->mechanism,
                .uid = uid,
        };
        ret->affected = calloc(plan->n_affected, sizeof(ExecDevice));
        if (!ret->affected || exec_device_copy(plan->target, &ret->target) < 0)
                goto fail;
        if (plan->target->parent && exec_device_copy(plan->target->parent, &ret->bridge) < 0)
                goto fail;
        STRV_FOREACH(a, (char **) proven)
                if (strv_extend(&ret->proven, *a) < 0)
                        goto fail;
        for (size_t i = 0; i < plan->n_affected; i++, ret->n_affected++)
                if (exec_device_copy(plan->affected[i], &ret->affected[i]) < 0)
                        goto fail;
        return 0;
fail:
        exec_request_done(ret);
        return -ENOMEM;
}

void exec_request_done(ExecRequest *r) {
        free(r->target.syspath);
        free(r->bridge.syspath);
        for (size_t i = 0; r->affected && i < r->n_affected; i++)
                free(r->affected[i].syspath);
        free(r->affected);
        strv_free(r->proven);
        *r = (ExecRequest) {};
}

void exec_result_done(ExecResult *r) {
        r->message = mfree(r->message);
}

__attribute__((format(printf, 4, 5)))
static void set_result(ExecResult *ret, ExecStatus status, int error, const char *fmt, ...) {
        va_list ap;
        ret->status = status;
        ret->error = error;
        va_start(ap, fmt);
        set_errorv(&ret->message, 0, fmt, ap);
        va_end(ap);
}

static char *inflight_path(const ExecContext *ctx, const char *name) {
        return strjoin_printf("%s/inflight/%s", ctx->state_dir, name);
}

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

int executor_read_methods(const ExecContext *ctx, const char *name, const char *syspath, char ***ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *path = strjoin_printf("%s/reset_method", syspath);
        int r;

        if (!path)
                return -ENOMEM;
        /* reset_method is an attribute the kernel answers from memory: a
         * short read under the lock never waits for a reset */
        pthread_mutex_lock(&narrowed_lock);
        const Narrowed *n = narrowed_find_locked(syspath);
        if (n)
                r = (text = strdup(n->orig)) ? 0 : -ENOMEM;
        else
                r = read_one_line_file(path, &text);
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
static int restore_methods(const char *path, const char *name, const char *orig) {
        int r = write_string_file(path, orig[0] ? orig : "\n");
        if (r != -EINVAL)
                return r;
        log_warning("%s: the kernel refused to restore reset_method '%s' (stale entry); writing 'default' to re-probe",
                    name, orig);
        return write_string_file(path, "default");
}

static int verify_device(const ExecDevice *d, char **ret_problem) {
        _cleanup_free_ char *cfg = strjoin_printf("%s/config", d->syspath);
        uint8_t b[4];

        if (!cfg)
                return -ENOMEM;
        if (access(d->syspath, F_OK) < 0) {
                *ret_problem = strjoin_printf("%s is gone after the reset", d->name);
                return -ENODEV;
        }
        _cleanup_close_ int fd = open(cfg, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, b, sizeof b, 0) != (ssize_t) sizeof b) {
                *ret_problem = strjoin_printf("%s does not answer config reads after the reset: %s", d->name,
                                              strerror(errno ?: EIO));
                return -EIO;
        }
        uint16_t v = (uint16_t) (b[0] | b[1] << 8), dev = (uint16_t) (b[2] | b[3] << 8);
        if (v != d->vendor_id || dev != d->device_id) {
                *ret_problem = strjoin_printf("%s did not come back: config space reads %04x:%04x, expected %04x:%04x",
                                              d->name, v, dev, d->vendor_id, d->device_id);
                return -EIO;
        }
        return 0;
}

static bool recheck_ownership(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        OpenHandles *handles = NULL;
        bool ok = true;

        for (size_t i = 0; ok && i < req->n_affected; i++) {
                DeviceVerdict v = {};
                int r = ownership_evaluate(&ctx->ownership, req->affected[i].name, req->affected[i].syspath,
                                           req->uid, req->proven, &handles, &v);
                if (r < 0) {
                        set_result(ret, EXEC_FAILED, -r, "cannot check the ownership of %s: %s",
                                   req->affected[i].name, strerror(-r));
                        ok = false;
                } else if (v.state == DEVICE_BUSY) {
                        set_result(ret, EXEC_BUSY, 0, "%s became busy while the request was queued: %s",
                                   req->affected[i].name, v.reason);
                        ok = false;
                }
                device_verdict_done(&v);
        }
        open_handles_free(handles);
        return ok;
}

static void run_kernel_method(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        const char *name = req->target.name;
        _cleanup_free_ char *rm = strjoin_printf("%s/reset_method", req->target.syspath);
        _cleanup_free_ char *reset = strjoin_printf("%s/reset", req->target.syspath);
        _cleanup_free_ char *rec = inflight_path(ctx, name), *orig = NULL;
        int r;

        if (!rm || !reset || !rec) {
                set_result(ret, EXEC_FAILED, ENOMEM, "out of memory");
                return;
        }
        r = narrowed_register(req->target.syspath, rm, &orig);
        if (r < 0) {
                set_result(ret, r == -ENOENT ? EXEC_GONE : EXEC_FAILED, -r, "cannot read the reset_method of %s: %s",
                           name, strerror(-r));
                return;
        }
        r = write_file_atomic(rec, orig);
        if (r < 0) {
                /* without the record a crash could leave the method changed */
                narrowed_unregister(req->target.syspath);
                set_result(ret, EXEC_FAILED, -r, "cannot record the reset_method of %s in %s: %s", name, rec,
                           strerror(-r));
                return;
        }

        r = write_string_file(rm, req->kernel_method);
        if (r < 0)
                set_result(ret, EXEC_FAILED, -r, "the kernel refused to select reset method '%s' for %s: %s",
                           req->kernel_method, name, strerror(-r));
        else {
                uint64_t t0 = now_usec();
                r = write_string_file(reset, "1");
                ret->usec = now_usec() - t0;
                if (r < 0)
                        set_result(ret, EXEC_FAILED, -r, "%s reset of %s failed: %s", req->kernel_method, name,
                                   strerror(-r));
        }

        int q = restore_methods(rm, name, orig);
        narrowed_unregister(req->target.syspath);
        if (q < 0)
                /* keep the record: the next start tries again */
                log_error("%s: cannot restore reset_method '%s': %s", name, orig, strerror(-q));
        else if (unlink(rec) < 0)
                log_warning("%s: cannot remove %s: %m", name, rec);
        if (r >= 0 && q < 0)
                set_result(ret, EXEC_FAILED, -q, "%s was reset, but its reset_method '%s' could not be restored: %s",
                           name, orig, strerror(-q));
}

static void run_reset_subordinate(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/reset_subordinate", req->bridge.syspath);
        if (!p) {
                set_result(ret, EXEC_FAILED, ENOMEM, "out of memory");
                return;
        }
        uint64_t t0 = now_usec();
        int r = write_string_file(p, "1");
        ret->usec = now_usec() - t0;
        if (r == -ENOENT)
                set_result(ret, EXEC_GONE, -r, "bridge %s or its reset_subordinate is gone", req->bridge.name);
        else if (r < 0)
                set_result(ret, EXEC_FAILED, -r, "bus reset of %s through reset_subordinate of %s failed: %s%s",
                           req->target.name, req->bridge.name, strerror(-r),
                           r == -ENOTTY ? " (a device below is quirked NO_BUS_RESET)" :
                           r == -EAGAIN ? " (a device below is locked by someone else; try again)" : "");
}

/* A userspace bus reset may only touch devices nobody can be using: checked
 * again here, right before, as ownership is. */
static bool recheck_quiet(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        OpenHandles *handles = NULL;
        bool ok = true;

        for (size_t i = 0; ok && i < req->n_affected; i++) {
                _cleanup_free_ char *why = NULL;
                bool quiet = false;
                int r = ownership_device_quiet(&ctx->ownership, req->affected[i].syspath, &handles, &quiet, &why);
                if (r < 0 || !quiet) {
                        set_result(ret, EXEC_BUSY, 0, "%s is %s: a userspace bus reset of %s would disturb it",
                                   req->affected[i].name, why ?: "in use", req->target.name);
                        ok = false;
                }
        }
        open_handles_free(handles);
        return ok;
}

static void run_userspace_sbr(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        PciConfig *cfg = NULL;
        char *message = NULL;

        if (!recheck_quiet(ctx, req, ret))
                return;
        _cleanup_free_ SbrDevice *devs = calloc(req->n_affected ?: 1, sizeof(SbrDevice));
        if (!devs) {
                set_result(ret, EXEC_FAILED, ENOMEM, "out of memory");
                return;
        }
        for (size_t i = 0; i < req->n_affected; i++)
                devs[i] = (SbrDevice) { req->affected[i].name, req->affected[i].vendor_id, req->affected[i].device_id };
        int r = pci_config_new(ctx->sysfs_root, &cfg);
        if (r < 0) {
                set_result(ret, EXEC_FAILED, -r, "cannot open config space through libpci: %s", strerror(-r));
                return;
        }
        uint64_t t0 = now_usec();
        r = sbr_run(&pci_config_ops, cfg, req->bridge.name, devs, req->n_affected,
                    ctx->ready_timeout_usec ?: 60000000u, &message);
        ret->usec = now_usec() - t0;
        pci_config_free(cfg);
        if (r < 0)
                set_result(ret, EXEC_FAILED, -r, "userspace bus reset of %s below %s failed: %s", req->target.name,
                           req->bridge.name, message ?: strerror(-r));
        free(message);
}

/* Data Link Layer Link Active of a bridge's PCIe link, from its config
 * (sysfs, no libpci): 1 up, 0 down, <0 unknown (no PCIe cap, no read). */
static int bridge_link_up(const ExecDevice *bridge) {
        if (!bridge->syspath)
                return -ENOENT;
        _cleanup_free_ char *p = strjoin_printf("%s/config", bridge->syspath);
        uint8_t cfg[256];
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, cfg, sizeof cfg, 0) != (ssize_t) sizeof cfg)
                return -EIO;
        unsigned exp = pci_config_find_cap(cfg, 0x10, PCI_EXP_CAP_LEN);
        if (!exp)
                return -ENOENT;
        return (cfg[exp + 0x12] | cfg[exp + 0x13] << 8) & 0x2000 ? 1 : 0;
}

void executor_run(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        *ret = (ExecResult) { .status = EXEC_OK };

        /* removed while the request was queued */
        for (size_t i = 0; i < req->n_affected; i++)
                if (access(req->affected[i].syspath, F_OK) < 0) {
                        set_result(ret, EXEC_GONE, ENODEV, "%s was removed while the request was queued",
                                   req->affected[i].name);
                        return;
                }

        if (!recheck_ownership(ctx, req, ret))
                return;

        int link_before = bridge_link_up(&req->bridge);
        switch (req->mechanism) {
        case MECHANISM_KERNEL_METHOD:
                run_kernel_method(ctx, req, ret);
                break;
        case MECHANISM_RESET_SUBORDINATE:
                run_reset_subordinate(ctx, req, ret);
                break;
        case MECHANISM_USERSPACE_SBR:
                run_userspace_sbr(ctx, req, ret);
                break;
        default:
                set_result(ret, EXEC_FAILED, EINVAL, "unknown reset mechanism");
        }
        if (ret->status != EXEC_OK)
                return;

        if (link_before == 1 && bridge_link_up(&req->bridge) != 1) {
                set_result(ret, EXEC_FAILED, ENOLINK, "the link below %s was up before the reset of %s and is not up "
                           "after it", req->bridge.name, req->target.name);
                return;
        }

        for (size_t i = 0; i < req->n_affected; i++) {
                char *problem = NULL;
                int r = verify_device(&req->affected[i], &problem);
                if (r < 0) {
                        set_result(ret, EXEC_FAILED, -r, "%s", problem ?: "verification failed");
                        free(problem);
                        return;
                }
        }
}

int executor_repair(const ExecContext *ctx) {
        _cleanup_free_ char *dir = strjoin_printf("%s/inflight", ctx->state_dir);
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
                _cleanup_free_ char *rm = strjoin_printf("%s/bus/pci/devices/%s/reset_method", ctx->sysfs_root,
                                                         de->d_name);
                if (!rm || read_one_line_file(rec, &orig) < 0)
                        continue;
                r = restore_methods(rm, de->d_name, orig);
                if (r == -ENOENT)
                        log_notice("%s: gone since the interrupted reset; nothing to restore", de->d_name);
                else if (r < 0) {
                        log_error("%s: cannot restore reset_method '%s' left by an interrupted reset: %s",
                                  de->d_name, orig, strerror(-r));
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
