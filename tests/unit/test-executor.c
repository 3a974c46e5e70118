/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The executor on fake trees: the method is selected, reset written,
 * reset_method restored whatever happens, a crash is repaired at the next
 * start, ownership is re-checked, and a device that does not come back is a
 * failure. Kernel errors come from a FUSE file standing in for `reset`.
 */

#include <errno.h>
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
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 methods=\"flr pm bus\"\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=10de device=1eb8 class=030000 driver=e1000e methods=\"flr\"\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport reset_subordinate\n"
        "03:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=30 methods=\"flr bus\"\n"
        "03:00.1 vendor=10de device=10f8 class=040300 methods=\"flr\"\n"
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=8086 device=1521 class=020000 methods=\"flr bus\"\n"
        "04:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=41 methods=\"flr\"\n";

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
        return g_test_run();
}
