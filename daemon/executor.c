/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include <pci/header.h>

#include "executor.h"
#include "log.h"
#include "pciconfig.h"
#include "reset-method.h"
#include "sbr.h"
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
        health_report_done(&r->health);
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
        /* An SR-IOV VF's ID registers read all ones by design (its ids are
         * the PF's business); a VF that is really there answers its
         * Command/Status register. */
        _cleanup_free_ char *physfn = strjoin_printf("%s/physfn", d->syspath);
        uint8_t cs[4];
        if (v == 0xffff && dev == 0xffff && physfn && access(physfn, F_OK) == 0 &&
            pread(fd, cs, sizeof cs, 4) == (ssize_t) sizeof cs && (cs[0] & cs[1] & cs[2] & cs[3]) != 0xff)
                return 0;
        if (v != d->vendor_id || dev != d->device_id) {
                *ret_problem = strjoin_printf("%s did not come back: config space reads %04x:%04x, expected %04x:%04x",
                                              d->name, v, dev, d->vendor_id, d->device_id);
                return -EIO;
        }
        return 0;
}

static bool recheck_ownership(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        Holders *holders = NULL;
        bool ok = true;

        for (size_t i = 0; ok && i < req->n_affected; i++) {
                DeviceVerdict v = {};
                int r = ownership_evaluate(&ctx->ownership, req->affected[i].name, req->affected[i].syspath,
                                           req->uid, req->proven, &holders, &v);
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
        holders_free(holders);
        return ok;
}

/* The reset's window: its wall-clock start goes into the record, where an
 * admin lines it up with dmesg; its length is measured on the monotonic
 * clock (returned), which no clock step can bend. */
static uint64_t reset_window_begin(ExecResult *ret) {
        ret->started_usec = clock_usec(CLOCK_REALTIME);
        return now_usec();
}

static void run_kernel_method(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        const char *name = req->target.name;
        _cleanup_free_ char *reset = strjoin_printf("%s/reset", req->target.syspath), *why = NULL;
        _cleanup_(reset_method_narrowing_done) ResetMethodNarrowing n = {};
        int r;

        if (!reset) {
                set_result(ret, EXEC_FAILED, ENOMEM, "out of memory");
                return;
        }
        r = reset_method_narrow(ctx->state_dir, name, req->target.syspath, req->kernel_method, &n, &why);
        if (r < 0) {
                set_result(ret, r == -ENOENT ? EXEC_GONE : EXEC_FAILED, -r, "%s", why ?: strerror(-r));
                return;
        }
        uint64_t t0 = reset_window_begin(ret);
        r = write_string_file(reset, "1");
        ret->usec = now_usec() - t0;
        if (r < 0)
                set_result(ret, EXEC_FAILED, -r, "%s reset of %s failed: %s", req->kernel_method, name, strerror(-r));

        int q = reset_method_restore(&n);
        if (r >= 0 && q < 0)
                set_result(ret, EXEC_FAILED, -q, "%s was reset, but its reset_method '%s' could not be restored: %s",
                           name, n.orig, strerror(-q));
}

static void run_reset_subordinate(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        _cleanup_free_ char *p = strjoin_printf("%s/reset_subordinate", req->bridge.syspath);
        if (!p) {
                set_result(ret, EXEC_FAILED, ENOMEM, "out of memory");
                return;
        }
        uint64_t t0 = reset_window_begin(ret);
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
        Holders *holders = NULL;
        bool ok = true;

        for (size_t i = 0; ok && i < req->n_affected; i++) {
                _cleanup_free_ char *why = NULL;
                bool quiet = false;
                int r = ownership_device_quiet(&ctx->ownership, req->affected[i].name, req->affected[i].syspath, req->uid,
                                                 &holders, &quiet, &why);
                if (r < 0 || !quiet) {
                        set_result(ret, EXEC_BUSY, 0, "%s is %s: a userspace bus reset of %s would disturb it",
                                   req->affected[i].name, why ?: "in use", req->target.name);
                        ok = false;
                }
        }
        holders_free(holders);
        return ok;
}

/* Secondary Bus Reset of bridge's Bridge Control, read (and cleared) through
 * sysfs config: 1 set, 0 clear, <0 unreadable. */
static int sbr_bit(const char *syspath, bool clear) {
        _cleanup_free_ char *p = strjoin_printf("%s/config", syspath);
        uint8_t bc;

        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, (clear ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 || pread(fd, &bc, 1, PCI_BRIDGE_CONTROL) != 1)
                return -(errno ?: EIO);
        if (!(bc & PCI_BRIDGE_CTL_BUS_RESET))
                return 0;
        bc &= (uint8_t) ~PCI_BRIDGE_CTL_BUS_RESET;
        if (clear && pwrite(fd, &bc, 1, PCI_BRIDGE_CONTROL) != 1)
                return -(errno ?: EIO);
        return 1;
}

static char *sbr_record_path(const ExecContext *ctx, const char *bridge) {
        return strjoin_printf("%s/inflight-sbr/%s", ctx->state_dir, bridge);
}

static void run_userspace_sbr(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        _cleanup_free_ char *record = sbr_record_path(ctx, req->bridge.name);
        PciConfig *cfg = NULL;
        char *message = NULL;

        if (!recheck_quiet(ctx, req, ret))
                return;
        /* a crash while Secondary Bus Reset is asserted must not leave the
         * bus below held in reset: the next start clears it */
        _cleanup_free_ char *dir = strjoin_printf("%s/inflight-sbr", ctx->state_dir);
        if (!record || !dir || mkdir_p(dir, 0700) < 0 || write_file_atomic(record, req->bridge.name) < 0) {
                set_result(ret, EXEC_FAILED, EIO, "cannot record the bus reset of %s in the state directory",
                           req->bridge.name);
                return;
        }
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
        uint64_t t0 = reset_window_begin(ret);
        r = sbr_run(&pci_config_ops, cfg, req->bridge.name, devs, req->n_affected,
                    __atomic_load_n(&ctx->ready_timeout_usec, __ATOMIC_RELAXED) ?: 60000000u, &message);
        ret->usec = now_usec() - t0;
        pci_config_free(cfg);
        if (r < 0)
                set_result(ret, EXEC_FAILED, -r, "userspace bus reset of %s below %s failed: %s", req->target.name,
                           req->bridge.name, message ?: strerror(-r));
        free(message);
        /* the record goes once the bit is known to be clear */
        if (sbr_bit(req->bridge.syspath, false) == 0)
                (void) unlink(record);
}

int executor_repair_sbr(const ExecContext *ctx, char *const *bridges) {
        _cleanup_free_ char *dir = strjoin_printf("%s/inflight-sbr", ctx->state_dir);
        int n = 0, r;

        if (!dir)
                return -ENOMEM;
        /* the records' directory only serves the records: the bridges are
         * checked whatever became of it */
        r = mkdir_p(dir, 0700);
        if (r < 0)
                log_warning_errno(r, "Cannot create %s: %m", dir);
        /* every bridge: a reset left asserted by anyone, recorded or not */
        STRV_FOREACH(b, (char **) bridges) {
                _cleanup_free_ char *syspath = strjoin_printf("%s/bus/pci/devices/%s", ctx->sysfs_root, *b);
                if (!syspath)
                        return -ENOMEM;
                r = sbr_bit(syspath, true);
                if (r > 0) {
                        log_notice("%s: Secondary Bus Reset was left asserted (an interrupted bus reset); cleared", *b);
                        n++;
                } else if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "%s: cannot check its Bridge Control: %m", *b);
                _cleanup_free_ char *rec = sbr_record_path(ctx, *b);
                if (rec)
                        (void) unlink(rec);
        }
        return n;
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

static void health_before(const ExecRequest *req, HealthReport *h) {
        /* without memory there is no report, and the reset goes on */
        h->devices = calloc(req->n_affected ?: 1, sizeof(DeviceHealth));
        if (!h->devices)
                return;
        h->n = req->n_affected;
        for (size_t i = 0; i < h->n; i++) {
                memcpy(h->devices[i].name, req->affected[i].name, sizeof h->devices[i].name);
                (void) health_sample(req->affected[i].syspath, &h->devices[i].before);
        }
}

#define LINK_SETTLE_USEC  (1 * USEC_PER_SEC)
#define LINK_REREAD_USEC  (50 * 1000)

/* A link comes back at 2.5 GT/s and speeds up on its own a little later
 * (or is still training when the device answers): a link that reads
 * degraded or training is read again for a while before it counts. */
static void health_after(const ExecContext *ctx, const ExecRequest *req, HealthReport *h) {
        uint64_t settle = __atomic_load_n(&ctx->link_settle_usec, __ATOMIC_RELAXED) ?: LINK_SETTLE_USEC;
        uint64_t t0 = now_usec();

        for (;;) {
                bool again = false;
                for (size_t i = 0; i < h->n; i++) {
                        DeviceHealth *d = &h->devices[i];
                        (void) health_sample(req->affected[i].syspath, &d->after);
                        health_judge(d);
                        again = again || d->link == LINK_DEGRADED ||
                                (d->link != LINK_NOT_APPLICABLE && d->after.training);
                }
                if (!again || now_usec() - t0 >= settle)
                        return;
                struct timespec ts = { .tv_nsec = LINK_REREAD_USEC * 1000 };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
}

static void check_health(const ExecContext *ctx, const ExecRequest *req, ExecResult *ret) {
        if (!ret->health.devices)
                return;
        health_after(ctx, req, &ret->health);
        if (health_outcome(&ret->health) != HEALTH_DEGRADED ||
            !__atomic_load_n(&ctx->require_same_link, __ATOMIC_RELAXED))
                return;
        _cleanup_free_ char *what = health_describe(&ret->health);
        set_result(ret, EXEC_FAILED, ENOLINK, "the reset of %s left a link degraded (RequireSameLink=yes): %s",
                   req->target.name, what ?: "out of memory");
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
        health_before(req, &ret->health);
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
        if (ret->status != EXEC_OK) {
                health_report_done(&ret->health);
                return;
        }

        if (link_before == 1 && bridge_link_up(&req->bridge) != 1) {
                set_result(ret, EXEC_FAILED, ENOLINK, "the link below %s was up before the reset of %s and is not up "
                           "after it", req->bridge.name, req->target.name);
                health_report_done(&ret->health);
                return;
        }

        for (size_t i = 0; i < req->n_affected; i++) {
                char *problem = NULL;
                int r = verify_device(&req->affected[i], &problem);
                if (r < 0) {
                        set_result(ret, EXEC_FAILED, -r, "%s", problem ?: "verification failed");
                        free(problem);
                        health_report_done(&ret->health);
                        return;
                }
        }
        check_health(ctx, req, ret);
}
