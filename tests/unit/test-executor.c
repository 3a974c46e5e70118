/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The executor on fake trees: the method is selected, reset written,
 * reset_method restored whatever happens, a crash is repaired at the next
 * start, ownership is re-checked, and a device that does not come back is a
 * failure. Kernel errors come from a FUSE file standing in for `reset`.
 */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/mount.h>
#include <sched.h>

#include "claims.h"
#include "config.h"
#include "executor.h"
#include "reset-method.h"
#include "fakereset.h"
#include "planner.h"
#include "sbr.h"
#include "test-common.h"
#include "topology.h"

static const char host_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport link=gen4x16\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 methods=\"flr pm bus\" link=gen4x16 aer-status=20 "
        "aer-mask=4000\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=10de device=1eb8 class=030000 driver=e1000e methods=\"flr\"\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport reset_subordinate link=gen3x8\n"
        "03:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=30 methods=\"flr bus\" link=gen3x8 aer\n"
        "03:00.1 vendor=10de device=10f8 class=040300 methods=\"flr\" link=gen3x8\n"
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=8086 device=1521 class=020000 methods=\"flr bus\"\n"
        "04:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=41 methods=\"flr\"\n"
        /* conventional PCI: no link, no AER */
        "00:05.0 bridge=pci secondary=05\n"
        "05:00.0 vendor=8086 device=1229 class=020000 methods=\"bus\"\n";

typedef struct Fixture {
        FakeHost *host;
        Config config;
        Claims *claims;
        Topology *topo;
        ExecContext exec;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->host = fake_host_new(host_desc);
        config_init(&f->config);
        g_assert_cmpint(claims_new(f->host->state, &f->claims), ==, 0);
        g_assert_cmpint(topology_new(f->host->sys, &f->topo), ==, 0);
        f->exec = (ExecContext) {
                .sysfs_root = f->host->sys, .state_dir = f->host->state,
                .ownership = { .sysfs_root = f->host->sys, .dev_root = f->host->dev, .proc_root = f->host->proc, .config = &f->config,
                               .claims = f->claims },
        };
        g_assert_cmpint(reset_method_repair(f->exec.sysfs_root, f->exec.state_dir), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        topology_free(f->topo);
        claims_free(f->claims);
        config_done(&f->config);
        fake_host_free(f->host);
}

static bool quiet(void *userdata, const PciDevice *d, char **why) {
        Fixture *f = userdata;
        Holders *h = NULL;
        bool q = false;
        g_assert_cmpint(ownership_device_quiet(&f->exec.ownership, d->name, d->syspath, 0, &h, &q, why), ==, 0);
        holders_free(h);
        return q;
}

static void make_request(Fixture *f, const char *addr, uint32_t mask, uid_t uid, ExecRequest *req) {
        PciAddress a;
        g_auto(GStrv) methods = NULL;
        g_autofree char *reason = NULL;
        ResetPlan p;
        pci_address_parse(addr, &a);
        PciDevice *d = topology_find(f->topo, &a);
        g_assert_nonnull(d);
        g_assert_cmpint(reset_method_read(d->syspath, &methods), ==, 0);
        PlannerEnv env = { .use_reset_subordinate = true, .allow_userspace_sbr = true, .quiet = quiet, .userdata = f };
        g_assert_cmpint(planner_plan(f->topo, d, mask, methods, &env, &p, &reason), ==, 0);
        g_assert_cmpint(exec_request_from_plan(&p, uid, NULL, req), ==, 0);
}

static gboolean inflight_empty(Fixture *f) {
        g_autofree char *dir = g_build_filename(f->host->state, "inflight", NULL);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        g_assert_nonnull(d);
        return g_dir_read_name(d) == NULL;
}

static gpointer run_in_thread(gpointer p) {
        gpointer *a = p;
        executor_run(&((Fixture *) a[0])->exec, a[1], a[2]);
        return NULL;
}

static void test_flr(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_FUNC, 4101, &req);
        g_assert_cmpstr(req.kernel_method, ==, "flr");
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_null(res.message);
        /* the reset file got the write, the method list is back as it was */
        g_autofree char *reset = fake_host_read(f->host, "0000:01:00.0", "reset");
        g_assert_cmpstr(reset, ==, "1");
        g_autofree char *rm = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(rm, ==, "flr pm bus");
        g_assert_true(inflight_empty(f));
        exec_result_done(&res);
        exec_request_done(&req);
}

static void test_busy_at_run_time(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_PM, 4101, &req);
        /* while queued, a host driver took the device */
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:01:00.0", "e1000e"), ==, 0);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_assert_nonnull(strstr(res.message, "0000:01:00.0 became busy while the request was queued: bound to e1000e"));
        /* nothing was touched */
        g_autofree char *rm = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(rm, ==, "flr pm bus");
        g_autofree char *reset = fake_host_read(f->host, "0000:01:00.0", "reset");
        g_assert_cmpstr(reset, ==, "");
        exec_result_done(&res);
        exec_request_done(&req);
}

static void test_owned_under_driver(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        uid_t holder;
        /* root's claim: the reset runs under the host driver */
        g_assert_cmpint(claims_add(f->claims, "0000:02:00.0", 0, 0x10de, 0x1eb8, &holder), ==, 0);
        make_request(f, "02:00.0", PCRESET_SCOPE_FLR, 0, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        exec_result_done(&res);
        exec_request_done(&req);
        /* the same request from another uid is refused at run time */
        make_request(f, "02:00.0", PCRESET_SCOPE_FLR, 4102, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_assert_nonnull(strstr(res.message, "claimed by another user"));
        exec_result_done(&res);
        exec_request_done(&req);
        /* a user's claim does not cover a device a host driver has */
        g_assert_cmpint(claims_remove(f->claims, "0000:02:00.0"), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:02:00.0", 4101, 0x10de, 0x1eb8, &holder), ==, 0);
        make_request(f, "02:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_assert_nonnull(strstr(res.message, "claimed by you, but bound to e1000e"));
        exec_result_done(&res);
        exec_request_done(&req);
}

static void test_not_back(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        /* the device answers all-ones after the reset */
        g_autofree char *cfg = fake_host_attr(f->host, "0000:01:00.0", "config");
        g_autofree char *data_ = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(cfg, &data_, &len, NULL));
        memset(data_, 0xff, 4);
        g_assert_true(g_file_set_contents(cfg, data_, (gssize) len, NULL));
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_FAILED);
        g_assert_cmpstr(res.message, ==,
                        "0000:01:00.0 did not come back: config space reads ffff:ffff, expected 8086:10d3");
        g_assert_null(res.health.devices);
        g_autofree char *rm = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(rm, ==, "flr pm bus");
        exec_result_done(&res);
        exec_request_done(&req);
}

static void test_gone(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        g_assert_cmpint(faketree_remove_device(f->host->root, "0000:01:00.0"), ==, 0);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_GONE);
        g_assert_true(inflight_empty(f));
        exec_result_done(&res);
        exec_request_done(&req);
}

/* While a worker has the list narrowed, readers see the admin's list. */
static void test_readers_see_admin_list(Fixture *f, gconstpointer data) {
        const char *specs[] = { "reset:400", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(f->host->root, "fuse", NULL);
        g_autofree char *log = g_build_filename(f->host->root, "fuse.log", NULL);
        g_autofree char *reset = fake_host_attr(f->host, "0000:01:00.0", "reset");
        g_autofree char *dir = faketree_device_dir(f->host->root, "0000:01:00.0");
        FakeReset *fr = fakereset_start(g_getenv("FAKERESET_FUSE"), mnt, log, specs, &error);
        g_assert_no_error(error);
        g_assert_cmpint(fakereset_bind(fr, "reset", reset), ==, 0);

        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_PM, 4101, &req);
        GThread *t = g_thread_new("reset", run_in_thread, (gpointer[]) { f, &req, &res });
        g_usleep(150 * 1000);
        /* mid-reset: the file says "pm", a reader says what the admin set */
        g_autofree char *now = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(now, ==, "pm");
        g_auto(GStrv) methods = NULL;
        g_assert_cmpint(reset_method_read(dir, &methods), ==, 0);
        g_autofree char *joined = g_strjoinv(" ", methods);
        g_assert_cmpstr(joined, ==, "flr pm bus");
        g_thread_join(t);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        exec_result_done(&res);
        exec_request_done(&req);
        fakereset_stop(fr);
}

static void test_repair(Fixture *f, gconstpointer data) {
        /* a crash between selecting the method and restoring it */
        g_autofree char *rec = g_build_filename(f->host->state, "inflight", "0000:01:00.0", NULL);
        g_autofree char *rm = fake_host_attr(f->host, "0000:01:00.0", "reset_method");
        g_autofree char *junk = g_build_filename(f->host->state, "inflight", "0000:01:00.0.Ab12Cd", NULL);
        g_assert_true(g_file_set_contents(rec, "flr pm bus", -1, NULL));
        g_assert_true(g_file_set_contents(rm, "pm\n", -1, NULL));
        g_assert_true(g_file_set_contents(junk, "half", -1, NULL));

        g_assert_cmpint(reset_method_repair(f->exec.sysfs_root, f->exec.state_dir), ==, 1);
        g_autofree char *now = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(now, ==, "flr pm bus");
        g_assert_true(inflight_empty(f));
        g_assert_cmpint(reset_method_repair(f->exec.sysfs_root, f->exec.state_dir), ==, 0);
}

/* Kernel errors, through a FUSE `reset` that fails like the kernel would. */
static void test_kernel_errors(Fixture *f, gconstpointer data) {
        static const struct {
                const char *spec;
                const char *text;
        } cases[] = {
                { "reset:0:EIO", "flr reset of 0000:01:00.0 failed: Input/output error" },
                { "reset:0:ENOTTY", "flr reset of 0000:01:00.0 failed: Inappropriate ioctl for device" },
                { "reset:0:EBUSY", "flr reset of 0000:01:00.0 failed: Device or resource busy" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *mnt = g_build_filename(f->host->root, "fuse", NULL);
                g_autofree char *log = g_build_filename(f->host->root, "fuse.log", NULL);
                g_autofree char *reset = fake_host_attr(f->host, "0000:01:00.0", "reset");
                const char *specs[] = { cases[i].spec, NULL };
                g_assert_cmpint(g_mkdir_with_parents(mnt, 0755), ==, 0);
                FakeReset *fr = fakereset_start(g_getenv("FAKERESET_FUSE"), mnt, log, specs, &error);
                g_assert_no_error(error);
                g_assert_cmpint(fakereset_bind(fr, "reset", reset), ==, 0);

                ExecRequest req;
                ExecResult res;
                make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
                executor_run(&f->exec, &req, &res);
                g_assert_cmpint(res.status, ==, EXEC_FAILED);
                g_assert_cmpstr(res.message, ==, cases[i].text);
                g_assert_null(res.health.devices);
                g_autofree char *rm = fake_host_read(f->host, "0000:01:00.0", "reset_method");
                g_assert_cmpstr(rm, ==, "flr pm bus");
                g_assert_true(inflight_empty(f));
                exec_result_done(&res);
                exec_request_done(&req);
                fakereset_stop(fr);
                g_unlink(log);
        }
}

static void test_reset_subordinate(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "03:00.1", PCRESET_SCOPE_BUS, 4101, &req);
        g_assert_cmpint(req.mechanism, ==, MECHANISM_RESET_SUBORDINATE);
        g_assert_cmpuint(req.n_affected, ==, 2);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_null(res.message);
        g_autofree char *rs = fake_host_read(f->host, "0000:00:03.0", "reset_subordinate");
        g_assert_cmpstr(rs, ==, "1");
        /* nobody's reset file or method list was touched */
        g_autofree char *r0 = fake_host_read(f->host, "0000:03:00.0", "reset");
        g_assert_cmpstr(r0, ==, "");
        g_autofree char *m0 = fake_host_read(f->host, "0000:03:00.0", "reset_method");
        g_assert_cmpstr(m0, ==, "flr bus");
        exec_result_done(&res);
        exec_request_done(&req);

        /* between planning and running, a VM opened the GPU: refused */
        make_request(f, "03:00.1", PCRESET_SCOPE_BUS, 4101, &req);
        g_assert_cmpint(faketree_set_open(f->host->root, 4711, "/dev/vfio/30"), >=, 0);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_assert_nonnull(strstr(res.message, "0000:03:00.0 became busy while the request was queued"));
        exec_result_done(&res);
        exec_request_done(&req);
}

/* The userspace bus reset through libpci on the fake tree; the bridge's
 * config is a FUSE file that records what was written to it. */
static void test_userspace_sbr(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(f->host->root, "fuse", NULL);
        g_autofree char *log = g_build_filename(f->host->root, "fuse.log", NULL);
        g_autofree char *cfg = fake_host_attr(f->host, "0000:00:04.0", "config");
        const char *specs[] = { "config", NULL };
        FakeReset *fr = fakereset_start(g_getenv("FAKERESET_FUSE"), mnt, log, specs, &error);
        g_assert_no_error(error);
        g_assert_cmpint(fakereset_bind(fr, "config", cfg), ==, 0);

        ExecRequest req;
        ExecResult res;
        make_request(f, "04:00.0", PCRESET_SCOPE_BUS, 4101, &req);
        g_assert_cmpint(req.mechanism, ==, MECHANISM_USERSPACE_SBR);
        f->exec.ready_timeout_usec = 2000000;
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_null(res.message);
        g_assert_cmpuint(res.usec, >=, SBR_ASSERT_USEC + SBR_SETTLE_USEC);

        /* two writes to the bridge's Bridge Control: SBR on, then off */
        g_autoptr(GPtrArray) entries = fakereset_read_log(log);
        g_assert_nonnull(entries);
        g_assert_cmpuint(entries->len, ==, 2);
        FakeResetEntry *on = entries->pdata[0], *off = entries->pdata[1];
        g_assert_cmpuint(on->size, ==, 2);
        g_assert_true(on->data[0] & 0x40);
        g_assert_false(off->data[0] & 0x40);
        g_assert_cmpuint(off->start_ns - on->end_ns, >=, SBR_ASSERT_USEC * 1000);
        g_autofree char *m0 = fake_host_read(f->host, "0000:04:00.0", "reset_method");
        g_assert_cmpstr(m0, ==, "flr bus");
        exec_result_done(&res);
        exec_request_done(&req);

        /* a host driver took the sibling while queued: nothing is written */
        make_request(f, "04:00.0", PCRESET_SCOPE_BUS, 4101, &req);
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:04:00.1", "igb"), ==, 0);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_autoptr(GPtrArray) again = fakereset_read_log(log);
        g_assert_cmpuint(again->len, ==, 2);
        exec_result_done(&res);
        exec_request_done(&req);
        fakereset_stop(fr);
}

/* ---- health after the reset ---------------------------------------------- */

/* faketree's layout: PCIe capability at 0x60 (Link Status at +0x12), AER at
 * 0x100 (Uncorrectable Error Status at +4) */
#define FAKE_LNKSTA 0x72
#define FAKE_AER_UNCOR_STATUS 0x104
#define LNKSTA(gen, width) ((gen) | (width) << 4)

static uint32_t config_get(Fixture *f, const char *addr, unsigned off, size_t len) {
        g_autofree char *p = fake_host_attr(f->host, addr, "config");
        uint8_t b[4] = {};
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pread(fd, b, len, off), ==, (ssize_t) len);
        close(fd);
        return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static void config_put(Fixture *f, const char *addr, unsigned off, uint32_t v, size_t len) {
        g_autofree char *p = fake_host_attr(f->host, addr, "config");
        uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, b, len, off), ==, (ssize_t) len);
        close(fd);
}

/* What the device does to its own config while the reset holds. */
typedef struct Patch {
        unsigned at_ms;      /* after the worker started */
        const char *addr;
        unsigned off;
        uint32_t value;
        size_t len;
} Patch;

/* Runs req on a worker while the FUSE file name, bound over attr of
 * holder, makes the reset last hold_ms, and applies the patches on time. */
static void run_patched(Fixture *f, const char *name, const char *holder, unsigned hold_ms, ExecRequest *req,
                        ExecResult *res, const Patch *patches, size_t n) {
        g_autoptr(GError) error = NULL;
        g_autofree char *mnt = g_build_filename(f->host->root, "fuse", NULL);
        g_autofree char *log = g_build_filename(f->host->root, "fuse.log", NULL);
        g_autofree char *attr = fake_host_attr(f->host, holder, name);
        g_autofree char *spec = g_strdup_printf("%s:%u", name, hold_ms);
        const char *specs[] = { spec, NULL };
        FakeReset *fr = fakereset_start(g_getenv("FAKERESET_FUSE"), mnt, log, specs, &error);
        g_assert_no_error(error);
        g_assert_cmpint(fakereset_bind(fr, name, attr), ==, 0);

        gint64 t0 = g_get_monotonic_time();
        GThread *t = g_thread_new("reset", run_in_thread, (gpointer[]) { f, req, res });
        for (size_t i = 0; i < n; i++) {
                gint64 due = t0 + (gint64) patches[i].at_ms * 1000, now = g_get_monotonic_time();
                if (due > now)
                        g_usleep((gulong) (due - now));
                config_put(f, patches[i].addr, patches[i].off, patches[i].value, patches[i].len);
        }
        g_thread_join(t);
        fakereset_stop(fr);
        g_unlink(log);
}

static const DeviceHealth *health_of(const ExecResult *res, const char *name) {
        for (size_t i = 0; i < res->health.n; i++)
                if (streq(res->health.devices[i].name, name))
                        return &res->health.devices[i];
        g_error("no health for %s", name);
}

static void test_health_same(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_cmpuint(res.health.n, ==, 1);
        const DeviceHealth *d = health_of(&res, "0000:01:00.0");
        g_assert_cmpint(d->link, ==, LINK_SAME);
        g_assert_cmpuint(d->before.speed_mts, ==, 16000);
        g_assert_cmpuint(d->after.width, ==, 16);
        /* SDES was set before: sticky, not new */
        g_assert_cmpint(d->aer, ==, AER_CLEAR);
        g_assert_cmphex(d->after.aer_status, ==, 0x20);
        g_assert_cmpint(health_outcome(&res.health), ==, HEALTH_OK);
        exec_result_done(&res);
        exec_request_done(&req);
}

/* The device comes back at 2.5 GT/s x1: a warning by default, a failed
 * reset with RequireSameLink=yes. */
static void test_health_degraded(Fixture *f, gconstpointer data) {
        const Patch drop[] = { { 150, "0000:01:00.0", FAKE_LNKSTA, LNKSTA(1, 1), 2 } };
        ExecRequest req;
        ExecResult res;

        g_assert_cmphex(config_get(f, "0000:01:00.0", FAKE_LNKSTA, 2), ==, LNKSTA(4, 16));
        f->exec.link_settle_usec = 200 * 1000;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        run_patched(f, "reset", "0000:01:00.0", 400, &req, &res, drop, G_N_ELEMENTS(drop));
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_null(res.message);
        g_assert_cmpint(health_outcome(&res.health), ==, HEALTH_DEGRADED);
        g_autofree char *text = health_describe(&res.health);
        g_assert_cmpstr(text, ==, "0000:01:00.0: link 2.5 GT/s x1, was 16 GT/s x16");
        exec_result_done(&res);
        exec_request_done(&req);

        config_put(f, "0000:01:00.0", FAKE_LNKSTA, LNKSTA(4, 16), 2);
        f->exec.require_same_link = true;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        run_patched(f, "reset", "0000:01:00.0", 400, &req, &res, drop, G_N_ELEMENTS(drop));
        g_assert_cmpint(res.status, ==, EXEC_FAILED);
        g_assert_cmpint(res.error, ==, ENOLINK);
        g_assert_cmpstr(res.message, ==, "the reset of 0000:01:00.0 left a link degraded (RequireSameLink=yes): "
                                         "0000:01:00.0: link 2.5 GT/s x1, was 16 GT/s x16");
        /* the report stays for the journal and ResetCompletedEx */
        g_assert_cmpint(health_outcome(&res.health), ==, HEALTH_DEGRADED);
        g_autofree char *rm = fake_host_read(f->host, "0000:01:00.0", "reset_method");
        g_assert_cmpstr(rm, ==, "flr pm bus");
        exec_result_done(&res);
        exec_request_done(&req);
}

/* A link that trains up to its old speed shortly after the device answers
 * is read again, not reported degraded. */
static void test_health_settles(Fixture *f, gconstpointer data) {
        const Patch retrain[] = {
                { 100, "0000:01:00.0", FAKE_LNKSTA, LNKSTA(1, 16), 2 },
                { 800, "0000:01:00.0", FAKE_LNKSTA, LNKSTA(4, 16), 2 },
        };
        ExecRequest req;
        ExecResult res;
        f->exec.link_settle_usec = 3 * G_USEC_PER_SEC;
        f->exec.require_same_link = true;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        gint64 t0 = g_get_monotonic_time();
        run_patched(f, "reset", "0000:01:00.0", 300, &req, &res, retrain, G_N_ELEMENTS(retrain));
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_cmpint(health_of(&res, "0000:01:00.0")->link, ==, LINK_SAME);
        /* it waited for the retrain, not for the whole settle time */
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 800 * 1000);
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 2500 * 1000);
        exec_result_done(&res);
        exec_request_done(&req);
}

/* New unmasked uncorrectable errors are reported, not a degraded link: a
 * bit set before (sticky) and a masked one do not count. */
static void test_health_aer(Fixture *f, gconstpointer data) {
        const Patch errors[] = { { 150, "0000:01:00.0", FAKE_AER_UNCOR_STATUS, 0x20 | 0x4000 | 0x100000, 4 } };
        ExecRequest req;
        ExecResult res;
        g_assert_cmphex(config_get(f, "0000:01:00.0", FAKE_AER_UNCOR_STATUS, 4), ==, 0x20);
        f->exec.require_same_link = true;
        make_request(f, "01:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        run_patched(f, "reset", "0000:01:00.0", 400, &req, &res, errors, G_N_ELEMENTS(errors));
        g_assert_cmpint(res.status, ==, EXEC_OK);
        const DeviceHealth *d = health_of(&res, "0000:01:00.0");
        g_assert_cmpint(d->aer, ==, AER_NEW_ERRORS);
        g_assert_cmphex(d->aer_new, ==, 0x100000);
        g_assert_cmpint(d->link, ==, LINK_SAME);
        g_assert_cmpint(health_outcome(&res.health), ==, HEALTH_NEW_ERRORS);
        g_autofree char *text = health_describe(&res.health);
        g_assert_cmpstr(text, ==, "0000:01:00.0: new uncorrectable errors UnsupReq");
        exec_result_done(&res);
        exec_request_done(&req);
}

/* A bus reset: every affected device is checked. */
static void test_health_bus(Fixture *f, gconstpointer data) {
        const Patch narrow[] = { { 150, "0000:03:00.1", FAKE_LNKSTA, LNKSTA(3, 4), 2 } };
        ExecRequest req;
        ExecResult res;
        f->exec.link_settle_usec = 100 * 1000;
        make_request(f, "03:00.1", PCRESET_SCOPE_BUS, 4101, &req);
        g_assert_cmpint(req.mechanism, ==, MECHANISM_RESET_SUBORDINATE);
        run_patched(f, "reset_subordinate", "0000:00:03.0", 400, &req, &res, narrow, G_N_ELEMENTS(narrow));
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_cmpuint(res.health.n, ==, 2);
        g_assert_cmpint(health_of(&res, "0000:03:00.0")->link, ==, LINK_SAME);
        g_assert_cmpint(health_of(&res, "0000:03:00.0")->aer, ==, AER_CLEAR);
        g_assert_cmpint(health_of(&res, "0000:03:00.1")->link, ==, LINK_DEGRADED);
        g_assert_cmpint(health_of(&res, "0000:03:00.1")->aer, ==, AER_NOT_APPLICABLE);
        g_autofree char *text = health_describe(&res.health);
        g_assert_cmpstr(text, ==, "0000:03:00.1: link 8 GT/s x4, was 8 GT/s x8");
        exec_result_done(&res);
        exec_request_done(&req);
}

/* Conventional PCI has neither: not applicable, not healthy. And a reset
 * that failed has no report at all. */
static void test_health_not_applicable(Fixture *f, gconstpointer data) {
        ExecRequest req;
        ExecResult res;
        f->exec.require_same_link = true;
        make_request(f, "05:00.0", PCRESET_SCOPE_BUS, 4101, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_OK);
        g_assert_cmpuint(res.health.n, ==, 1);
        g_assert_cmpint(health_of(&res, "0000:05:00.0")->link, ==, LINK_NOT_APPLICABLE);
        g_assert_cmpint(health_of(&res, "0000:05:00.0")->aer, ==, AER_NOT_APPLICABLE);
        g_assert_cmpint(health_outcome(&res.health), ==, HEALTH_NOT_APPLICABLE);
        exec_result_done(&res);
        exec_request_done(&req);

        make_request(f, "02:00.0", PCRESET_SCOPE_FLR, 4101, &req);
        executor_run(&f->exec, &req, &res);
        g_assert_cmpint(res.status, ==, EXEC_BUSY);
        g_assert_null(res.health.devices);
        exec_result_done(&res);
        exec_request_done(&req);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        /* FUSE binds must not leak to the host's mount table */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                g_error("cannot enter a private mount namespace (root needed): %m");
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/executor/flr", test_flr);
        ADD("/executor/busy-at-run-time", test_busy_at_run_time);
        ADD("/executor/owned-under-driver", test_owned_under_driver);
        ADD("/executor/not-back", test_not_back);
        ADD("/executor/gone", test_gone);
        ADD("/executor/repair", test_repair);
        ADD("/executor/readers-see-admin-list", test_readers_see_admin_list);
        ADD("/executor/kernel-errors", test_kernel_errors);
        ADD("/executor/reset-subordinate", test_reset_subordinate);
        ADD("/executor/userspace-sbr", test_userspace_sbr);
        ADD("/executor/health/same", test_health_same);
        ADD("/executor/health/degraded", test_health_degraded);
        ADD("/executor/health/settles", test_health_settles);
        ADD("/executor/health/aer", test_health_aer);
        ADD("/executor/health/bus", test_health_bus);
        ADD("/executor/health/not-applicable", test_health_not_applicable);
        return g_test_run();
}
