/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ownership decisions and claims on fake trees. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claims.h"
#include "config.h"
#include "ownership.h"
#include "reset-method.h"
#include "test-common.h"

static const char host_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e group=3\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=12 vfio\n"
        "02:00.1 vendor=10de device=10f8 class=040300 driver=vfio-pci group=12 vfio open-by=4711\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=20 vfio-owner=4101 open-by=5000\n"
        "03:00.1 vendor=1af4 device=1041 class=020000 group=21\n"
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=8086 device=1521 class=020000 driver=pci-stub group=30\n"
        "04:00.1 vendor=8086 device=1521 class=020000 driver=mlx5_vfio_pci group=31 cdev=vfio7 cdev-open-by=6000\n"
        "00:05.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=8086 device=1521 class=020000 driver=vfio-pci group=40 cdev=vfio8 cdev-owner=4102\n";

typedef struct Fixture {
        FakeHost *host;
        Config config;
        Claims *claims;
        OwnershipContext ctx;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->host = fake_host_new(data ?: host_desc);
        config_init(&f->config);
        g_assert_cmpint(claims_new(f->host->state, &f->claims), ==, 0);
        f->ctx = (OwnershipContext) { .sysfs_root = f->host->sys, .dev_root = f->host->dev,
                                      .proc_root = f->host->proc, .config = &f->config, .claims = f->claims };
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        claims_free(f->claims);
        config_done(&f->config);
        fake_host_free(f->host);
}

static DeviceState eval(Fixture *f, const char *addr, uid_t uid, char **reason, bool *under_driver) {
        g_autofree char *dir = faketree_device_dir(f->host->root, addr);
        Holders *h = NULL;
        DeviceVerdict v = {};
        g_assert_cmpint(ownership_evaluate(&f->ctx, addr, dir, uid, NULL, &h, &v), ==, 0);
        holders_free(h);
        g_test_message("%s uid %u: %s (%s)", addr, (unsigned) uid, device_state_to_string(v.state), v.reason);
        *reason = g_strdup(v.reason);
        if (under_driver)
                *under_driver = v.under_driver;
        DeviceState s = v.state;
        device_verdict_done(&v);
        return s;
}

#define assert_state(f, addr, uid, state, needle) do {                           \
                g_autofree char *_r = NULL;                                       \
                g_assert_cmpint(eval(f, addr, uid, &_r, NULL), ==, state);        \
                g_assert_nonnull(strstr(_r, needle));                             \
        } while (0)

static void test_idle_and_busy(Fixture *f, gconstpointer data) {
        assert_state(f, "0000:01:00.0", 4101, DEVICE_BUSY, "bound to e1000e: in use by the host and not owned by you");
        assert_state(f, "0000:01:00.0", 0, DEVICE_BUSY, "bound to e1000e");
        /* who holds it is root's and the holder's business only */
        assert_state(f, "0000:02:00.0", 4101, DEVICE_BUSY, "vfio group 12 is in use by another user's process");
        assert_state(f, "0000:02:00.0", 0, DEVICE_BUSY, "vfio group 12 is open by pid 4711 (qemu-system-x86)");
        assert_state(f, "0000:03:00.1", 4101, DEVICE_IDLE, "no driver bound");
        assert_state(f, "0000:04:00.0", 4101, DEVICE_IDLE, "bound to pci-stub, not open");
        assert_state(f, "0000:04:00.1", 4101, DEVICE_BUSY, "vfio device vfio7 is in use by another user's process");
        assert_state(f, "0000:04:00.1", 0, DEVICE_BUSY, "vfio device vfio7 is open by pid 6000");
        /* ports only pass resets through */
        assert_state(f, "0000:00:01.0", 4101, DEVICE_IDLE, "bridge (pcieport): passed through");
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:00:02.0", "shpchp"), ==, 0);
        assert_state(f, "0000:00:02.0", 4101, DEVICE_BUSY, "bound to shpchp");
}

static void test_vfio_node_owner(Fixture *f, gconstpointer data) {
        bool under = true;
        g_autofree char *r = NULL;
        /* the group node belongs to 4101: its own use of the device is fine */
        g_assert_cmpint(eval(f, "0000:03:00.0", 4101, &r, &under), ==, DEVICE_OWNED);
        g_assert_false(under);
        g_assert_nonnull(strstr(r, "vfio group 20 belongs to you"));
        assert_state(f, "0000:03:00.0", 4102, DEVICE_BUSY, "vfio group 20 is in use by another user's process");
        assert_state(f, "0000:03:00.0", 0, DEVICE_BUSY, "vfio group 20 is open by pid 5000 (qemu-system-x86)");
        assert_state(f, "0000:05:00.0", 4102, DEVICE_OWNED, "vfio device vfio8 belongs to you");
        assert_state(f, "0000:05:00.0", 4101, DEVICE_IDLE, "not open");
        /* a root-owned node proves nothing: root owns every node */
        g_autofree char *node = g_build_filename(f->host->dev, "vfio", "12", NULL);
        g_assert_cmpint(chown(node, 0, 0), ==, 0);
        assert_state(f, "0000:02:00.0", 0, DEVICE_BUSY, "open by pid 4711");
}

static void test_claims(Fixture *f, gconstpointer data) {
        uid_t holder = 0;
        bool under = false;
        g_autofree char *r = NULL;

        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 4101, 0x8086, 0x10d3, &holder), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 4101, 0x8086, 0x10d3, &holder), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 4102, 0x8086, 0x10d3, &holder), ==, -EBUSY);
        g_assert_cmpuint(holder, ==, 4101);

        /* a user's claim covers a device only while no host driver has it */
        assert_state(f, "0000:01:00.0", 4101, DEVICE_BUSY, "claimed by you, but bound to e1000e: in use by the host");
        g_assert_cmpint(claims_remove(f->claims, "0000:01:00.0"), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 0, 0x8086, 0x10d3, &holder), ==, 0);
        g_assert_cmpint(eval(f, "0000:01:00.0", 0, &r, &under), ==, DEVICE_OWNED);
        g_assert_true(under);  /* root's: e1000e stays bound, the reset runs under it */
        g_assert_nonnull(strstr(r, "runs under its host driver e1000e"));
        g_assert_cmpint(claims_remove(f->claims, "0000:01:00.0"), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 4101, 0x8086, 0x10d3, &holder), ==, 0);
        /* someone else's claim blocks, even an idle device */
        assert_state(f, "0000:01:00.0", 4102, DEVICE_BUSY, "claimed by another user");
        assert_state(f, "0000:01:00.0", 0, DEVICE_BUSY, "claimed by uid 4101");
        g_assert_cmpint(claims_add(f->claims, "0000:03:00.1", 4102, 0x1af4, 0x1041, &holder), ==, 0);
        assert_state(f, "0000:03:00.1", 4101, DEVICE_BUSY, "claimed by another user");
        assert_state(f, "0000:03:00.1", 0, DEVICE_BUSY, "claimed by uid 4102");

        /* persisted: a new instance reads them back */
        Claims *again = NULL;
        uid_t uid = 0;
        g_assert_cmpint(claims_new(f->host->state, &again), ==, 0);
        g_assert_cmpint(claims_get(again, "0000:01:00.0", &uid), ==, 0);
        g_assert_cmpuint(uid, ==, 4101);
        g_assert_cmpint(claims_remove(again, "0000:01:00.0"), ==, 0);
        g_assert_cmpint(claims_remove(again, "0000:01:00.0"), ==, -ENOENT);
        claims_free(again);
        g_assert_cmpint(claims_new(f->host->state, &again), ==, 0);
        g_assert_cmpint(claims_get(again, "0000:01:00.0", &uid), ==, -ENOENT);
        g_assert_cmpint(claims_get(again, "0000:03:00.1", &uid), ==, 0);
        claims_free(again);
}

static bool lookup_only_first(void *userdata, const char *address, uint16_t *vendor, uint16_t *device) {
        if (!g_str_equal(address, "0000:01:00.0"))
                return false;
        *vendor = 0x8086;
        *device = GPOINTER_TO_UINT(userdata);
        return true;
}

static void test_claims_prune(Fixture *f, gconstpointer data) {
        uid_t holder, uid;
        g_assert_cmpint(claims_add(f->claims, "0000:01:00.0", 4101, 0x8086, 0x10d3, &holder), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:03:00.1", 4101, 0x1af4, 0x1041, &holder), ==, 0);
        claims_prune(f->claims, lookup_only_first, GUINT_TO_POINTER(0x10d3));
        g_assert_cmpint(claims_get(f->claims, "0000:01:00.0", &uid), ==, 0);
        g_assert_cmpint(claims_get(f->claims, "0000:03:00.1", &uid), ==, -ENOENT);
        /* same address, other device: the claim was for something else */
        claims_prune(f->claims, lookup_only_first, GUINT_TO_POINTER(0x10d4));
        g_assert_cmpint(claims_get(f->claims, "0000:01:00.0", &uid), ==, -ENOENT);
}

static void test_stub_config(Fixture *f, gconstpointer data) {
        g_strfreev(f->config.stub_drivers);
        f->config.stub_drivers = g_strsplit("e1000e", " ", -1);
        assert_state(f, "0000:01:00.0", 4101, DEVICE_IDLE, "bound to e1000e, not open");
        assert_state(f, "0000:04:00.0", 4101, DEVICE_BUSY, "bound to pci-stub: in use by the host");
        /* *_vfio_pci always counts as a stub */
        assert_state(f, "0000:04:00.1", 4101, DEVICE_BUSY, "vfio device vfio7 is in use by another user's process");
}

static void test_open_handles_live(Fixture *f, gconstpointer data) {
        assert_state(f, "0000:04:00.0", 4101, DEVICE_IDLE, "not open");
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:03:00.1", "vfio-pci"), ==, 0);
        assert_state(f, "0000:03:00.1", 4101, DEVICE_IDLE, "bound to vfio-pci, not open");
        g_assert_cmpint(faketree_set_open(f->host->root, 7777, "/dev/vfio/21"), >=, 0);
        assert_state(f, "0000:03:00.1", 4101, DEVICE_BUSY, "vfio group 21 is in use by another user's process");
        assert_state(f, "0000:03:00.1", 0, DEVICE_BUSY, "vfio group 21 is open by pid 7777");
}

/* ---- the ways around "idle or yours" a hostile user tried -------------- */

/* Bob (4102) holds devices in ways the old text-matching scan missed. */
static const char hidden_desc[] =
        /* a thread that unshared its fd table holds group 60 */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=60 thread-open-by=7001/7002@4102\n"
        /* a private copy of group 61's node (same device number, another path) */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=61 private-open-by=7003@4102\n"
        /* an O_PATH fd of group 62: no holder, it cannot use the device */
        "00:03.0 bridge=root-port secondary=03 driver=pcieport\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=62 opath-by=7004@4102\n"
        /* a VFIO device fd that names its device, group fd closed */
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=63 device-fd-by=7005@4102\n"
        "04:00.1 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=64\n"
        /* alice's node, held by bob's process (an fd passed over SCM_RIGHTS) */
        "00:05.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=65 vfio-owner=4101 open-by=7006@4102\n"
        /* alice's node held by alice's own process: hers */
        "00:06.0 bridge=root-port secondary=06 driver=pcieport\n"
        "06:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=66 vfio-owner=4101 open-by=7007\n";

static void test_hidden_holders(Fixture *f, gconstpointer data) {
        assert_state(f, "0000:01:00.0", 4101, DEVICE_BUSY, "vfio group 60 is in use by another user's process");
        assert_state(f, "0000:01:00.0", 0, DEVICE_BUSY, "vfio group 60 is open by pid 7001 (qemu-system-x86)");
        assert_state(f, "0000:02:00.0", 4101, DEVICE_BUSY, "vfio group 61 is in use by another user's process");
        assert_state(f, "0000:02:00.0", 4102, DEVICE_BUSY, "vfio group 61 is open by pid 7003");
        /* O_PATH: nobody's device is made busy by it */
        assert_state(f, "0000:03:00.0", 4101, DEVICE_IDLE, "bound to vfio-pci, not open");
        assert_state(f, "0000:04:00.0", 4101, DEVICE_BUSY, "a VFIO device fd of it is held by another user's process");
        assert_state(f, "0000:04:00.0", 0, DEVICE_BUSY, "a VFIO device fd of it is held by pid 7005");
        /* the fdinfo names the device: its neighbour is not affected */
        assert_state(f, "0000:04:00.1", 4101, DEVICE_IDLE, "not open");
        /* owning the node does not take it from the process that holds it */
        assert_state(f, "0000:05:00.0", 4101, DEVICE_BUSY,
                     "vfio group 65 belongs to you, but vfio group 65 is in use by another user's process");
        assert_state(f, "0000:06:00.0", 4101, DEVICE_OWNED, "vfio group 66 belongs to you");
}

/* A claim does not override another uid's open handle either. */
static void test_claim_does_not_override_holder(Fixture *f, gconstpointer data) {
        uid_t holder;
        g_assert_cmpint(claims_add(f->claims, "0000:02:00.0", 4101, 0x1af4, 0x1041, &holder), ==, 0);
        assert_state(f, "0000:02:00.0", 4101, DEVICE_BUSY, "claimed by you, but vfio group 61 is in use by another");
        /* nor root's claim */
        g_assert_cmpint(claims_remove(f->claims, "0000:02:00.0"), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:02:00.0", 0, 0x1af4, 0x1041, &holder), ==, 0);
        assert_state(f, "0000:02:00.0", 0, DEVICE_BUSY, "claimed by you, but vfio group 61 is open by pid 7003");
}

/* What the kernel does not tell counts as possibly in use (fails closed). */
static const char unreadable_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=70 unreadable-by=7010@4102\n"
        "01:00.1 vendor=1af4 device=1041 class=020000 group=71\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e group=73\n";

static void test_unreadable_fails_closed(Fixture *f, gconstpointer data) {
        assert_state(f, "0000:01:00.0", 4101, DEVICE_BUSY,
                     "the open files of another user's process cannot be read (Not a directory), so it may hold");
        assert_state(f, "0000:01:00.0", 0, DEVICE_BUSY, "the open files of pid 7010 (secretive) cannot be read");
        /* nothing can hold a device no driver has; a host driver's is busy anyway */
        assert_state(f, "0000:01:00.1", 4101, DEVICE_IDLE, "no driver bound");
        assert_state(f, "0000:02:00.0", 0, DEVICE_BUSY, "bound to e1000e");
}

static const char unnamed_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=72 unnamed-device-fd-by=7011@4102\n"
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=73 vfio-owner=4101\n";

static void test_unnamed_device_fd(Fixture *f, gconstpointer data) {
        /* a VFIO device fd the kernel does not name may be any VFIO device's */
        assert_state(f, "0000:01:00.0", 4101, DEVICE_BUSY,
                     "another user's process holds a VFIO device fd that this kernel does not name");
        assert_state(f, "0000:02:00.0", 4101, DEVICE_BUSY,
                     "vfio group 73 belongs to you, but another user's process holds a VFIO device fd");
        assert_state(f, "0000:02:00.0", 4102, DEVICE_BUSY, "pid 7011 (qemu-system-x86) holds a VFIO device fd");
}

/* The fake sysfs calls /dev/full (1:7) VFIO group 77: tests on the real
 * /proc hold it as a group node. */
static void full_is_group_77(Fixture *f) {
        g_autofree char *chardir = g_build_filename(f->host->sys, "dev", "char", NULL);
        g_autofree char *link = g_build_filename(chardir, "1:7", NULL);
        g_autofree char *vgroup = g_build_filename(f->host->sys, "devices", "virtual", "vfio", "77", NULL);
        g_assert_cmpint(g_mkdir_with_parents(chardir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(vgroup, 0755), ==, 0);
        g_assert_cmpint(symlink("../../devices/virtual/vfio/77", link), ==, 0);
}

/* On the real /proc the daemon is itself a process: the fds a caller
 * passed as proof sit in its table while it decides, and must not count as
 * a root holder against the caller. Here this test is the daemon: it holds
 * /dev/full, which the fake sysfs calls VFIO group 77. */
static void test_self_is_no_holder(Fixture *f, gconstpointer data) {
        full_is_group_77(f);
        int fd = open("/dev/full", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        Holders *h = NULL;
        g_assert_cmpint(holders_scan("/proc", f->host->sys, &h), ==, 0);
        g_assert_cmpuint(holders_n_tables(h), >, 1);
        const Holder *x = holders_find(h, "0000:77:00.0", 77, NULL, false, (uid_t) -1);
        g_assert_true(!x || x->pid != getpid());
        holders_free(h);
        /* the same fd table read as a fake /proc is a holder all the same */
        g_autofree char *fake = g_build_filename(f->host->root, "realish", NULL);
        g_autofree char *self = g_strdup_printf("%s/%d", fake, (int) getpid());
        g_autofree char *fdlink = g_build_filename(self, "fd", NULL);
        g_assert_cmpint(g_mkdir_with_parents(self, 0755), ==, 0);
        g_assert_cmpint(symlink("/proc/self/fd", fdlink), ==, 0);
        g_assert_cmpint(holders_scan(fake, f->host->sys, &h), ==, 0);
        x = holders_find(h, "0000:77:00.0", 77, NULL, false, (uid_t) -1);
        g_assert_nonnull(x);
        g_assert_cmpint(x->pid, ==, getpid());
        holders_free(h);
        close(fd);
}

/* A process with many threads sharing one fd table costs one table, not
 * one per thread (a user could otherwise multiply the scan's cost). */
static gpointer sleeper(gpointer data) {
        g_usleep(GPOINTER_TO_UINT(data));
        return NULL;
}

static void test_threads_share_one_table(Fixture *f, gconstpointer data) {
        Holders *h = NULL;
        g_assert_cmpint(holders_scan("/proc", f->host->sys, &h), ==, 0);
        unsigned before = holders_n_tables(h);
        holders_free(h);
        GThread *t[64];
        for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
                t[i] = g_thread_new("sleeper", sleeper, GUINT_TO_POINTER(2 * G_USEC_PER_SEC));
        g_usleep(100 * 1000);
        g_assert_cmpint(holders_scan("/proc", f->host->sys, &h), ==, 0);
        unsigned after = holders_n_tables(h);
        holders_free(h);
        for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
                g_thread_join(t[i]);
        g_test_message("fd tables read: %u without the threads, %u with 64 more", before, after);
        /* other processes may come and go meanwhile; 64 threads may not count */
        g_assert_cmpuint(after, <, before + 16);
}

/* The scanner's scan of a big /proc uses two threads, which take the
 * processes in turn: a holder is found whichever thread read it (the first
 * and the last process listed), every table is read once, and a cancelled
 * scan gives up. */
static void test_split_scan(Fixture *f, gconstpointer data) {
        enum { N = 600 };
        Holders *h = NULL;
        g_assert_cmpint(holders_scan(f->host->proc, f->host->sys, &h), ==, 0);
        size_t fixture_holders = holders_n(h);
        holders_free(h);
        /* bound to vfio-pci: their groups get nodes */
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:03:00.1", "vfio-pci"), ==, 0);
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:01:00.0", "vfio-pci"), ==, 0);
        /* every other noise process holds group 3's node: some of them
         * are read by each thread */
        for (int i = 0; i < N; i++)
                g_assert_cmpint(faketree_set_open(f->host->root, 20000 + i, i % 2 ? "socket:[9]" : "/dev/vfio/3"),
                                >=, 0);
        /* the order a scan sees */
        g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GDir) dir = g_dir_open(f->host->proc, 0, NULL);
        g_assert_nonnull(dir);
        for (const char *name; (name = g_dir_read_name(dir));) {
                int pid = atoi(name);
                if (pid > 0)
                        g_array_append_val(order, pid);
        }
        g_assert_cmpuint(order->len, >=, N);
        /* a noise process at each end of that order */
        int first = -1, last = -1;
        for (guint i = 0; i < order->len && first < 0; i++)
                if (g_array_index(order, int, i) >= 20000)
                        first = g_array_index(order, int, i);
        for (guint i = order->len; i > 0 && last < 0; i--)
                if (g_array_index(order, int, i - 1) >= 20000)
                        last = g_array_index(order, int, i - 1);
        g_assert_cmpint(faketree_set_open(f->host->root, first, "/dev/vfio/21"), >=, 0);
        g_assert_cmpint(faketree_set_open(f->host->root, last, "/dev/vfio/21"), >=, 0);

        g_assert_cmpint(holders_scan_cancellable(f->host->proc, f->host->sys, NULL, &h), ==, 0);
        g_assert_cmpuint(holders_n_tables(h), ==, order->len);
        /* every holder, once: the fixture's, the N / 2 of group 3, first's and last's of group 21 */
        g_assert_cmpuint(holders_n(h), ==, fixture_holders + N / 2 + 2);
        const Holder *x = holders_find(h, "0000:03:00.1", 21, NULL, false, (uid_t) -1);
        g_assert_nonnull(x);
        g_assert_true(x->pid == first || x->pid == last);
        /* the fixture's own holders, wherever they fell */
        x = holders_find(h, "0000:02:00.1", 12, NULL, true, (uid_t) -1);
        g_assert_nonnull(x);
        g_assert_cmpint(x->pid, ==, 4711);
        holders_free(h);

        bool cancel = true;
        h = NULL;
        g_assert_cmpint(holders_scan_cancellable(f->host->proc, f->host->sys, &cancel, &h), ==, -ECANCELED);
        g_assert_null(h);
}

/* A holder hands its fd to a child it forks while a scan runs, then
 * closes its own copy (red team): the group is held without a break from
 * before the scan until after it, so the scan must meet it in the child.
 * It does because <proc> is read as the scan goes (procfs lists by pid, a
 * new child gets a higher pid), never listed first: a list taken first
 * missed it. X, a big fd table scanned before the holder V, keeps the scan
 * busy while V hands over; 1,500 idle processes after them put the child
 * in a later getdents batch (on a small host the listing ends at once and
 * such a child is missed: docs/security.md). Runs on the real /proc, with
 * the fake sysfs calling /dev/full VFIO group 77. */
static bool rt_scanner_is_in(pid_t pid) {
        char prefix[64], link[PATH_MAX];
        snprintf(prefix, sizeof prefix, "/proc/%d/", (int) pid);
        g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
        for (const char *e; d && (e = g_dir_read_name(d));) {
                g_autofree char *p = g_build_filename("/proc/self/fd", e, NULL);
                ssize_t n = readlink(p, link, sizeof link - 1);
                if (n > 0) {
                        link[n] = '\0';
                        if (g_str_has_prefix(link, prefix))
                                return true;
                }
        }
        return false;
}

typedef struct RtScan {
        const char *sys;
        Holders *h;
        int r;
} RtScan;

static gpointer rt_scan_thread(gpointer p) {
        RtScan *s = p;
        s->r = holders_scan("/proc", s->sys, &s->h);
        return NULL;
}

static void rt_read1(int fd, void *buf, size_t n) {
        g_assert_cmpint(read(fd, buf, n), ==, (ssize_t) n);
}

/* One try: false if pids wrapped meanwhile (the order it needs is then
 * not there), everything cleaned up. */
static bool holder_forked_attempt(Fixture *f) {
        int xready[2], cmd[2], ack[2];
        g_assert_cmpint(pipe(xready), ==, 0);
        g_assert_cmpint(pipe(cmd), ==, 0);
        g_assert_cmpint(pipe(ack), ==, 0);

        /* X: a big fd table, so that the scan stays in it a while */
        pid_t x = fork();
        g_assert_cmpint(x, >=, 0);
        if (x == 0) {
                struct rlimit rl = { 200000, 200000 };
                (void) setrlimit(RLIMIT_NOFILE, &rl);
                int null = open("/dev/null", O_RDONLY);
                for (int i = 0; i < 199000 && dup(null) >= 0; i++)
                        ;
                char c = 'x';
                (void) !write(xready[1], &c, 1);
                for (;;)
                        pause();
        }
        char c;
        rt_read1(xready[0], &c, 1);

        /* V: holds the group; on command forks C, which keeps it, and closes its own */
        pid_t v = fork();
        g_assert_cmpint(v, >=, 0);
        if (v == 0) {
                int full = open("/dev/full", O_RDONLY);
                char k;
                (void) !write(ack[1], "v", 1);
                if (read(cmd[0], &k, 1) != 1)
                        _exit(1);
                int cready[2];
                if (pipe(cready) < 0)
                        _exit(1);
                pid_t child = fork();
                if (child == 0) {
                        (void) !write(cready[1], "c", 1);
                        for (;;)
                                pause();
                }
                (void) !read(cready[0], &k, 1);
                close(full);
                (void) !write(ack[1], &child, sizeof child);
                for (;;)
                        pause();
        }
        rt_read1(ack[0], &c, 1);
        /* idle processes after X and V, so that /proc is more than one getdents */
        enum { N_IDLE = 1500 };
        g_autofree pid_t *idle = g_new0(pid_t, N_IDLE);
        bool wrapped = v < x;
        /* spawned, not forked: a fork copies this process' page tables,
         * which are huge under ASan (1,500 forks took 50 s there) */
        char *sleep_argv[] = { (char *) "sleep", (char *) "600", NULL };
        for (int i = 0; i < N_IDLE; i++) {
                g_assert_cmpint(posix_spawnp(&idle[i], "sleep", NULL, NULL, sleep_argv, environ), ==, 0);
                wrapped = wrapped || idle[i] < v;
        }
        if (wrapped) {
                kill(x, SIGKILL), kill(v, SIGKILL), waitpid(x, NULL, 0), waitpid(v, NULL, 0);
                for (int i = 0; i < N_IDLE; i++)
                        kill(idle[i], SIGKILL), waitpid(idle[i], NULL, 0);
                close(xready[0]), close(xready[1]), close(cmd[0]), close(cmd[1]), close(ack[0]), close(ack[1]);
                return false;
        }

        /* before: V holds group 77 (checked once the children are gone) */
        Holders *h = NULL;
        g_assert_cmpint(holders_scan("/proc", f->host->sys, &h), ==, 0);
        const Holder *hx = holders_find(h, "0000:77:00.0", 77, NULL, false, (uid_t) -1);
        pid_t before = hx ? hx->pid : 0;
        holders_free(h);

        RtScan s = { .sys = f->host->sys };
        GThread *t = g_thread_new("scan", rt_scan_thread, &s);
        gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (!rt_scanner_is_in(x) && g_get_monotonic_time() < deadline)
                g_usleep(20);
        bool met = rt_scanner_is_in(x);
        /* the scan is reading X, V comes after it: hand over */
        pid_t child = 0;
        g_assert_cmpint(write(cmd[1], "g", 1), ==, 1);
        rt_read1(ack[0], &child, sizeof child);
        bool still_in_x = rt_scanner_is_in(x);
        g_thread_join(t);
        g_test_message("X %d, V %d, C %d; the handover was done %s the scan left X", (int) x, (int) v,
                       (int) child, still_in_x ? "before" : "perhaps after");

        g_assert_cmpint(s.r, ==, 0);
        hx = holders_find(s.h, "0000:77:00.0", 77, NULL, false, (uid_t) -1);
        bool found = hx != NULL;
        g_test_message("holder of group 77 found: %s", found ? "yes" : "NO");
        wrapped = child < idle[N_IDLE - 1];
        holders_free(s.h);

        /* and after the scan, C still holds it */
        g_assert_cmpint(holders_scan("/proc", f->host->sys, &h), ==, 0);
        const Holder *after = holders_find(h, "0000:77:00.0", 77, NULL, false, (uid_t) -1);
        pid_t after_pid = after ? after->pid : 0;
        holders_free(h);

        kill(x, SIGKILL), kill(v, SIGKILL), kill(child, SIGKILL);
        waitpid(x, NULL, 0), waitpid(v, NULL, 0);
        for (int i = 0; i < N_IDLE; i++)
                kill(idle[i], SIGKILL), waitpid(idle[i], NULL, 0);
        close(xready[0]), close(xready[1]), close(cmd[0]), close(cmd[1]), close(ack[0]), close(ack[1]);
        if (wrapped)
                return false;
        g_assert_true(met);
        g_assert_cmpint(before, ==, v);
        g_assert_cmpint(after_pid, ==, child);
        /* the group was held throughout the scan: it must be reported */
        g_assert_true(found);
        return true;
}

/* pid_max may be 32768 and the machine busy: a wrap during a try is
 * likely enough to retry, never to skip (the counter is low after one). */
static void test_holder_forked_during_scan(Fixture *f, gconstpointer data) {
        full_is_group_77(f);
        bool done = false;
        for (int i = 0; i < 3 && !done; i++)
                if (!(done = holder_forked_attempt(f)))
                        g_test_message("pids wrapped during try %d: again", i + 1);
        g_assert_true(done);
}

/* A non-procfs <proc> (the fake trees, --proc-root) may name a process
 * directory "04711": the scan opens the name it read, not a number
 * printed again, or the holder in it would be missed (red team). */
static void test_noncanonical_pid_name(Fixture *f, gconstpointer data) {
        g_autofree char *from = g_build_filename(f->host->proc, "4711", NULL);
        g_autofree char *to = g_build_filename(f->host->proc, "04711", NULL);
        g_assert_cmpint(rename(from, to), ==, 0);
        Holders *h = NULL;
        g_assert_cmpint(holders_scan(f->host->proc, f->host->sys, &h), ==, 0);
        const Holder *x = holders_find(h, "0000:02:00.1", 12, NULL, true, (uid_t) -1);
        bool found = x != NULL;
        holders_free(h);
        g_assert_true(found);
}

/* The claims file, read strictly: a long line's tail, a second claim of
 * the same device, uids that wrap, a symlink, a huge file. */
static void test_claims_file_strict(Fixture *f, gconstpointer data) {
        g_autofree char *path = g_build_filename(f->host->state, "claims", NULL);
        g_autoptr(GString) text = g_string_new("# pcresetd claims: address uid vendor device\n");
        g_string_append(text, "0000:01:00.0 4101 8086 10d3\n");
        for (int i = 0; i < 300; i++)
                g_string_append_c(text, 'x');
        g_string_append(text, " 0000:03:00.1 4102 1af4 1041\n");   /* a tail that looks like a claim */
        g_string_append(text, "0000:01:00.0 4102 8086 10d3\n");      /* a second claim of 01:00.0 */
        g_string_append(text, "0000:02:00.0 -1 10de 1eb8\n");
        g_string_append(text, "0000:02:00.1 99999999999 10de 10f8\n");
        g_string_append(text, "0000:04:00.0 4101 8086 1521 extra\n");
        g_string_append(text, "0000:04:00.1 4101 86 1521\n");
        g_assert_true(g_file_set_contents(path, text->str, -1, NULL));
        Claims *c = NULL;
        uid_t uid = 0;
        g_assert_cmpint(claims_new(f->host->state, &c), ==, 0);
        g_assert_cmpuint(claims_count(c), ==, 1);
        g_assert_cmpint(claims_get(c, "0000:01:00.0", &uid), ==, 0);
        g_assert_cmpuint(uid, ==, 4101);
        g_assert_cmpint(claims_get(c, "0000:03:00.1", &uid), ==, -ENOENT);
        g_assert_cmpint(claims_get(c, "0000:02:00.0", &uid), ==, -ENOENT);
        g_assert_cmpint(claims_get(c, "0000:02:00.1", &uid), ==, -ENOENT);
        /* a release really releases: no second claim resurfaces */
        g_assert_cmpint(claims_remove(c, "0000:01:00.0"), ==, 0);
        claims_free(c);
        g_assert_cmpint(claims_new(f->host->state, &c), ==, 0);
        g_assert_cmpint(claims_get(c, "0000:01:00.0", &uid), ==, -ENOENT);
        claims_free(c);

        /* a symlinked file is not followed */
        g_autofree char *elsewhere = g_build_filename(f->host->root, "elsewhere", NULL);
        g_assert_true(g_file_set_contents(elsewhere, "0000:01:00.0 4101 8086 10d3\n", -1, NULL));
        g_assert_cmpint(unlink(path), ==, 0);
        g_assert_cmpint(symlink(elsewhere, path), ==, 0);
        g_assert_cmpint(claims_new(f->host->state, &c), <, 0);

        /* a million lines for absent devices: bounded, and quick */
        g_assert_cmpint(unlink(path), ==, 0);
        g_autoptr(GString) big = g_string_new(NULL);
        for (unsigned i = 0; i < 1000000; i++)
                g_string_append_printf(big, "%04x:%02x:%02x.%u %u 8086 10d3\n", 1 + i / 65536 % 4, i / 256 % 256,
                                       i / 8 % 32, i % 8, 4101);
        g_assert_true(g_file_set_contents(path, big->str, (gssize) big->len, NULL));
        gint64 t0 = g_get_monotonic_time();
        g_assert_cmpint(claims_new(f->host->state, &c), ==, 0);
        gint64 ms = (g_get_monotonic_time() - t0) / 1000;
        g_test_message("1M claim lines: %u kept, %" G_GINT64_FORMAT " ms", claims_count(c), ms);
        g_assert_cmpuint(claims_count(c), ==, 4096);
        g_assert_cmpint(ms, <, 2000);
        claims_free(c);
}

/* A mapped VFIO device region holds its device; a file merely named like
 * one does not (a stranger's trick to make every device busy). */
static void test_mapped_device_region(Fixture *f, gconstpointer data) {
        g_autofree char *pdir = g_build_filename(f->host->proc, "8100", NULL);
        g_autofree char *fd = g_build_filename(pdir, "fd", NULL);
        g_autofree char *maps = g_build_filename(pdir, "maps", NULL);
        g_assert_cmpint(g_mkdir_with_parents(fd, 0755), ==, 0);
        g_assert_true(g_file_set_contents(maps,
                "55d0c0a00000-55d0c0a02000 r-xp 00000000 00:2c 12 /tmp/x/anon_inode:[vfio-device]\n", -1, NULL));
        assert_state(f, "0000:04:00.0", 4101, DEVICE_IDLE, "bound to pci-stub, not open");
        /* a file whose name ends in " anon_inode:[vfio-device]" (the kernel
         * prints spaces in a path as they are) */
        g_assert_true(g_file_set_contents(maps,
                "55d0c0a00000-55d0c0a02000 r--p 00000000 00:2c 12                         /tmp/x anon_inode:[vfio-device]\n",
                -1, NULL));
        assert_state(f, "0000:04:00.0", 4101, DEVICE_IDLE, "bound to pci-stub, not open");
        /* a path longer than any line buffer, whose tail looks like one */
        g_autoptr(GString) longline = g_string_new("55d0c0a00000-55d0c0a02000 r--p 00000000 00:2c 12 /tmp/");
        for (int i = 0; i < 1000; i++)
                g_string_append_c(longline, 'y');
        g_string_append(longline, "/ anon_inode:[vfio-device]\n");
        g_assert_true(g_file_set_contents(maps, longline->str, -1, NULL));
        assert_state(f, "0000:04:00.0", 4101, DEVICE_IDLE, "bound to pci-stub, not open");
        g_assert_true(g_file_set_contents(maps,
                "7f0000000000-7f0000001000 rw-s 00000000 00:0e 1043 anon_inode:[vfio-device]\n", -1, NULL));
        assert_state(f, "0000:04:00.0", 4101, DEVICE_BUSY, "holds a VFIO device fd that this kernel does not name");
}

/* A maps file that breaks off is no complete one (red team): what was
 * not read may map a device, so the process may hold any stub-bound one.
 * Here maps is a directory: open works, the read fails (EISDIR). */
static void test_maps_unreadable_fails_closed(Fixture *f, gconstpointer data) {
        g_autofree char *pdir = g_build_filename(f->host->proc, "8101", NULL);
        g_autofree char *fd = g_build_filename(pdir, "fd", NULL);
        g_autofree char *maps = g_build_filename(pdir, "maps", NULL);
        g_assert_cmpint(g_mkdir_with_parents(fd, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(maps, 0755), ==, 0);
        assert_state(f, "0000:04:00.0", 4101, DEVICE_BUSY, "cannot be read (Is a directory)");
        /* a device no driver has cannot be held that way */
        assert_state(f, "0000:03:00.1", 4101, DEVICE_IDLE, "no driver bound");
}

/* (found by a red-team review) A region of a device opened through its
 * VFIO cdev (/dev/vfio/devices/vfioX, iommufd) and mapped, its fd then
 * closed: the vma keeps the cdev's file and so the device open, but
 * /proc/PID/maps names the mapping by the cdev's path (any path: a bind
 * mount, a private mknod), not "anon_inode:[vfio-device]". It is known by
 * what map_files/RANGE is (st_rdev), as an fd is. */
static void test_mapped_cdev_region(Fixture *f, gconstpointer data) {
        g_autofree char *pdir = g_build_filename(f->host->proc, "8200", NULL);
        g_autofree char *fd = g_build_filename(pdir, "fd", NULL);
        g_autofree char *mf = g_build_filename(pdir, "map_files", NULL);
        g_autofree char *maps = g_build_filename(pdir, "maps", NULL);
        g_autofree char *node = g_build_filename(f->host->dev, "vfio", "devices", "vfio8", NULL);
        g_autofree char *region = g_build_filename(mf, "7f0000000000-7f0000004000", NULL);
        g_autofree char *lib = g_build_filename(mf, "7f0000010000-7f0000014000", NULL);
        g_assert_cmpint(g_mkdir_with_parents(fd, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(mf, 0755), ==, 0);
        /* 05:00.0: vfio-pci, cdev vfio8 (node 4102's), nobody has an fd of it */
        assert_state(f, "0000:05:00.0", 4101, DEVICE_IDLE, "bound to vfio-pci, not open");
        /* pid 8200 mapped BAR0 through a private path to vfio8 and closed
         * the fd; the same node mapped privately ("p") is no VFIO region */
        g_assert_cmpint(symlink(node, region), ==, 0);
        g_assert_cmpint(symlink(node, lib), ==, 0);
        g_assert_true(g_file_set_contents(maps,
                "7f0000010000-7f0000014000 r--p 00000000 00:05 1043                       /home/x/not-vfio\n",
                -1, NULL));
        assert_state(f, "0000:05:00.0", 4101, DEVICE_IDLE, "bound to vfio-pci, not open");
        g_assert_true(g_file_set_contents(maps,
                "7f0000010000-7f0000014000 r--p 00000000 00:05 1043                       /home/x/not-vfio\n"
                "7f0000000000-7f0000004000 rw-s 00000000 00:2a 77                         /home/x/private vfio8\n",
                -1, NULL));
        g_autofree char *r = NULL;
        DeviceState s = eval(f, "0000:05:00.0", 4101, &r, NULL);
        g_assert_cmpint(s, ==, DEVICE_BUSY);
}

/* (found by a red-team review) The node of a no-IOMMU group is
 * <dev>/vfio/noiommu-N (the kernel names it so; vfio-node.c parses it).
 * 0.1 stat()ed only <dev>/vfio/N from the device's iommu_group link: a
 * noiommu node the admin gave to uid 4102 was invisible, neither making
 * 4102 the owner nor overruling another uid's claim. */
static void test_noiommu_node_owner(Fixture *f, gconstpointer data) {
        g_autofree char *node = g_build_filename(f->host->dev, "vfio", "noiommu-30", NULL);
        g_autofree char *dir = faketree_device_dir(f->host->root, "0000:04:00.0");
        g_assert_true(g_file_set_contents(node, "", 0, NULL));
        g_assert_cmpint(chown(node, 4102, 4102), ==, 0);
        uid_t owner = 0;
        g_assert_cmpint(ownership_node_owner(&f->ctx, dir, &owner), ==, 1);
        g_assert_cmpuint(owner, ==, 4102);
}

/* Facts read through a directory fd (ListDevices' short lookups) are the
 * full path's: through the device's real parent directory, and through a
 * directory where the lookup fails (a bridge removed during the call), which
 * must be asked again by the full path, not taken for "no driver". Each
 * device once per uid, and reset_method likewise. */
static void test_facts_through_dirfd(Fixture *f, gconstpointer data) {
        static const char *const addrs[] = { "0000:01:00.0", "0000:02:00.0", "0000:02:00.1", "0000:03:00.0",
                                             "0000:03:00.1", "0000:04:00.0", "0000:04:00.1", "0000:05:00.0" };
        g_autofree char *empty = g_build_filename(f->host->root, "empty", NULL);
        g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
        int emptyfd = open(empty, O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(emptyfd, >=, 0);
        uid_t holder;
        /* a claim, and one the node owner (4101) overrules */
        g_assert_cmpint(claims_add(f->claims, "0000:03:00.1", 4101, 0x1af4, 0x1041, &holder), ==, 0);
        g_assert_cmpint(claims_add(f->claims, "0000:03:00.0", 4102, 0x1af4, 0x1041, &holder), ==, 0);

        for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
                g_autofree char *dir = faketree_device_dir(f->host->root, addrs[i]);
                g_autofree char *parent = g_path_get_dirname(dir);
                const char *rel = strrchr(dir, '/') + 1;
                int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
                g_assert_cmpint(pfd, >=, 0);
                for (uid_t uid = 0; uid <= 4101; uid += 4101) {
                        DeviceVerdict want = {}, got = {}, fell = {};
                        DeviceFacts fp, fe;
                        Holders *h = NULL;
                        g_assert_cmpint(ownership_evaluate(&f->ctx, addrs[i], dir, uid, NULL, &h, &want), ==, 0);
                        device_facts_init_at(&fp, pfd, rel, dir);
                        device_facts_init_at(&fe, emptyfd, rel, dir);
                        g_assert_cmpint(ownership_evaluate_facts(&f->ctx, addrs[i], &fp, uid, NULL, &h, &got), ==, 0);
                        g_assert_cmpint(ownership_evaluate_facts(&f->ctx, addrs[i], &fe, uid, NULL, &h, &fell), ==, 0);
                        g_test_message("%s uid %u: %s", addrs[i], (unsigned) uid, want.reason);
                        for (DeviceVerdict *v = &got; v; v = v == &got ? &fell : NULL) {
                                g_assert_cmpint(v->state, ==, want.state);
                                g_assert_cmpstr(v->reason, ==, want.reason);
                                g_assert_cmpstr(v->driver, ==, want.driver);
                                g_assert_cmpint(v->under_driver, ==, want.under_driver);
                                device_verdict_done(v);
                        }
                        device_verdict_done(&want);
                        device_facts_done(&fp);
                        device_facts_done(&fe);
                        holders_free(h);
                }
                g_auto(GStrv) m = NULL, mp = NULL, me = NULL;
                g_assert_cmpint(reset_method_read(dir, &m), ==, 0);
                g_assert_cmpint(reset_method_read_at(pfd, rel, dir, &mp), ==, 0);
                g_assert_cmpint(reset_method_read_at(emptyfd, rel, dir, &me), ==, 0);
                g_assert_cmpstrv(mp, m);
                g_assert_cmpstrv(me, m);
                close(pfd);
        }
        close(emptyfd);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/ownership/idle-and-busy", test_idle_and_busy);
        ADD("/ownership/vfio-node-owner", test_vfio_node_owner);
        ADD("/ownership/claims", test_claims);
        ADD("/ownership/claims-prune", test_claims_prune);
        ADD("/ownership/stub-config", test_stub_config);
        ADD("/ownership/open-handles-live", test_open_handles_live);
        g_test_add("/ownership/hidden-holders", Fixture, hidden_desc, fixture_setup, test_hidden_holders,
                   fixture_teardown);
        g_test_add("/ownership/claim-does-not-override-holder", Fixture, hidden_desc, fixture_setup,
                   test_claim_does_not_override_holder, fixture_teardown);
        g_test_add("/ownership/unreadable-fails-closed", Fixture, unreadable_desc, fixture_setup,
                   test_unreadable_fails_closed, fixture_teardown);
        g_test_add("/ownership/unnamed-device-fd", Fixture, unnamed_desc, fixture_setup, test_unnamed_device_fd,
                   fixture_teardown);
        ADD("/ownership/self-is-no-holder", test_self_is_no_holder);
        ADD("/ownership/threads-share-one-table", test_threads_share_one_table);
        ADD("/ownership/split-scan", test_split_scan);
        ADD("/ownership/attack/holder-forked-during-scan", test_holder_forked_during_scan);
        ADD("/ownership/attack/noncanonical-pid-name", test_noncanonical_pid_name);
        ADD("/ownership/claims-file-strict", test_claims_file_strict);
        ADD("/ownership/mapped-device-region", test_mapped_device_region);
        ADD("/ownership/attack/maps-unreadable-fails-closed", test_maps_unreadable_fails_closed);
        ADD("/ownership/mapped-cdev-region", test_mapped_cdev_region);
        ADD("/ownership/noiommu-node-owner", test_noiommu_node_owner);
        ADD("/ownership/facts-through-dirfd", test_facts_through_dirfd);
        return g_test_run();
}
