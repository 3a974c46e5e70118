/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner on fake sysfs trees: which method a mask gets, and why not. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "claims.h"
#include "config.h"
#include "decision.h"
#include "executor.h"
#include "reset-method.h"
#include "ownership.h"
#include "planner.h"
#include "test-common.h"
#include "topology.h"

static const char host_desc[] =
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e methods=\"flr pm bus\"\n"
        "00:02.0 bridge=root-port hotplug slot=2 secondary=02 driver=pcieport\n"
        "02:00.0 vendor=144d device=a808 class=010802 driver=nvme methods=\"flr bus\"\n"
        "00:03.0 bridge=root-port secondary=03 driver=pcieport reset_subordinate\n"
        "03:00.0 vendor=10de device=1eb8 class=030000 methods=\"flr bus\"\n"   /* stale 'bus': a sibling exists */
        "03:00.1 vendor=10de device=10f8 class=040300 methods=\"flr\"\n"
        "00:04.0 bridge=root-port secondary=04 driver=pcieport\n"
        "04:00.0 vendor=1af4 device=1041 class=020000 methods=\"pm\"\n"          /* NO_BUS_RESET: no bus listed */
        "00:05.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=1234 device=0001 class=ff0000 methods=\"acpi af_flr pm\"\n"
        "00:06.0 bridge=root-port secondary=06 driver=pcieport\n"
        "06:00.0 vendor=1234 device=0002 class=ff0000 methods=\"\"\n"
        "06:00.1 vendor=1234 device=0003 class=ff0000 methods=none\n"
        "00:1f.2 vendor=8086 device=2922 class=010601 driver=ahci methods=\"pm bus\"\n"
        /* dual-function NIC, no reset_subordinate: .0 driverless, .1 on vfio-pci */
        "00:07.0 bridge=root-port secondary=07 driver=pcieport\n"
        "07:00.0 vendor=8086 device=1521 class=020000 methods=\"flr bus\"\n"
        "07:00.1 vendor=8086 device=1521 class=020000 driver=vfio-pci group=71 methods=\"flr\"\n"
        /* a switch: two hotplug downstream ports, one device each */
        "00:08.0 bridge=root-port secondary=08 subordinate=0b driver=pcieport reset_subordinate\n"
        "08:00.0 bridge=upstream secondary=09 subordinate=0b driver=pcieport\n"
        "09:00.0 bridge=downstream hotplug slot=9 secondary=0a driver=pcieport\n"
        "09:01.0 bridge=downstream hotplug slot=10 secondary=0b driver=pcieport\n"
        "0a:00.0 vendor=1af4 device=1041 class=020000 methods=\"pm bus\"\n"
        "0b:00.0 vendor=1af4 device=1041 class=020000 driver=vfio-pci group=90 methods=\"flr pm bus\"\n"
        /* nested: an endpoint beside a conventional bridge with one below it */
        "00:09.0 bridge=root-port secondary=0c subordinate=0d driver=pcieport\n"
        "0c:00.0 vendor=1234 device=0004 class=ff0000 methods=\"flr bus\"\n"
        "0c:01.0 bridge=pci secondary=0d\n"
        "0d:00.0 vendor=1234 device=0005 class=ff0000 methods=\"bus\"\n"
        /* two functions in a hotplug slot */
        "00:0a.0 bridge=root-port hotplug slot=20 secondary=0e driver=pcieport reset_subordinate\n"
        "0e:00.0 vendor=10de device=1eb8 class=030000 methods=\"flr bus\"\n"
        "0e:00.1 vendor=10de device=10f8 class=040300 methods=\"flr\"\n";

typedef struct Fixture {
        FakeHost *host;
        Topology *topo;
        Config config;
        Claims *claims;
        ExecContext exec;
        PlannerEnv env;
} Fixture;

/* The daemon's notion of quiet, on the fake tree. */
static bool quiet(void *userdata, const PciDevice *d, char **why) {
        Fixture *f = userdata;
        Holders *h = NULL;
        bool q = false;
        g_assert_cmpint(ownership_device_quiet(&f->exec.ownership, d->name, d->syspath, 0, &h, &q, why), ==, 0);
        holders_free(h);
        return q;
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->host = fake_host_new(data ?: host_desc);
        g_assert_cmpint(topology_new(f->host->sys, &f->topo), ==, 0);
        config_init(&f->config);
        g_assert_cmpint(claims_new(f->host->state, &f->claims), ==, 0);
        f->exec = (ExecContext) {
                .sysfs_root = f->host->sys, .state_dir = f->host->state,
                .ownership = { .sysfs_root = f->host->sys, .dev_root = f->host->dev, .proc_root = f->host->proc, .config = &f->config,
                               .claims = f->claims },
        };
        f->env = (PlannerEnv) { .use_reset_subordinate = true, .allow_userspace_sbr = true, .quiet = quiet,
                                .userdata = f };
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        topology_free(f->topo);
        claims_free(f->claims);
        config_done(&f->config);
        fake_host_free(f->host);
}

/* Plans addr with mask; returns the planned bit, or 0 with *reason set. */
static uint32_t plan(Fixture *f, const char *addr, uint32_t mask, ResetPlan *out, char **reason) {
        PciAddress a;
        g_auto(GStrv) methods = NULL;
        ResetPlan p;
        g_assert_cmpint(pci_address_parse(addr, &a), ==, 0);
        PciDevice *d = topology_find(f->topo, &a);
        g_assert_nonnull(d);
        g_assert_cmpint(reset_method_read(d->syspath, &methods), ==, 0);
        int r = planner_plan(f->topo, d, mask, methods, &f->env, &p, reason);
        if (r == -EOPNOTSUPP) {
                g_assert_nonnull(*reason);
                g_test_message("%s mask 0x%x: %s", addr, mask, *reason);
                return 0;
        }
        g_assert_cmpint(r, ==, 0);
        g_assert_null(*reason);
        g_assert_true(p.target == d);
        if (out)
                *out = p;
        return p.scope;
}

#define assert_plan(f, addr, mask, expected) do {                                \
                g_autofree char *_reason = NULL;                                  \
                g_assert_cmphex(plan(f, addr, mask, NULL, &_reason), ==, expected); \
        } while (0)

#define assert_refused(f, addr, mask, needle) do {                               \
                g_autofree char *_reason = NULL;                                  \
                g_assert_cmphex(plan(f, addr, mask, NULL, &_reason), ==, 0);      \
                g_assert_nonnull(strstr(_reason, needle));                        \
        } while (0)

static void test_topology(Fixture *f, gconstpointer data) {
        PciAddress a;
        g_assert_cmpuint(topology_count(f->topo), ==, 31);
        pci_address_parse("03:00.1", &a);
        PciDevice *d = topology_find(f->topo, &a);
        g_assert_nonnull(d);
        g_assert_cmphex(d->vendor_id, ==, 0x10de);
        g_assert_cmphex(d->class, ==, 0x040300);
        g_assert_true(d->multifunction);
        g_assert_nonnull(d->parent);
        g_assert_cmpstr(d->parent->name, ==, "0000:00:03.0");
        g_assert_true(d->parent->is_bridge);
        g_assert_true(d->parent->has_reset_subordinate);
        g_assert_cmpuint(d->parent->secondary_bus, ==, 3);
        g_assert_true(g_str_has_suffix(d->relpath, "pci0000:00/0000:00:03.0/0000:03:00.1"));

        pci_address_parse("02:00.0", &a);
        d = topology_find(f->topo, &a);
        g_assert_true(d->hotplug_slot);
        g_assert_cmpstr(d->slot, ==, "2");
        pci_address_parse("01:00.0", &a);
        d = topology_find(f->topo, &a);
        g_assert_false(d->hotplug_slot);
        g_assert_false(d->multifunction);
        pci_address_parse("00:1f.2", &a);
        d = topology_find(f->topo, &a);
        g_assert_null(d->parent);
        pci_address_parse("0f:00.0", &a);
        g_assert_null(topology_find(f->topo, &a));

        char *driver = NULL;
        g_assert_cmpint(pci_device_read_driver(d, &driver), ==, 0);
        g_assert_cmpstr(driver, ==, "ahci");
        free(driver);
}

static void test_function_scopes(Fixture *f, gconstpointer data) {
        assert_plan(f, "01:00.0", PCRESET_SCOPE_FUNC, PCRESET_SCOPE_FLR);
        assert_plan(f, "01:00.0", PCRESET_SCOPE_ANY, PCRESET_SCOPE_FLR);
        assert_plan(f, "01:00.0", PCRESET_SCOPE_PM, PCRESET_SCOPE_PM);
        assert_plan(f, "01:00.0", PCRESET_SCOPE_PM | PCRESET_SCOPE_BUS, PCRESET_SCOPE_PM);
        /* preference follows the kernel's order: acpi before af_flr before pm */
        assert_plan(f, "05:00.0", PCRESET_SCOPE_ANY, PCRESET_SCOPE_ACPI);
        assert_plan(f, "05:00.0", PCRESET_SCOPE_FLR | PCRESET_SCOPE_PM, PCRESET_SCOPE_FLR);
        ResetPlan p;
        g_autofree char *reason = NULL;
        g_assert_cmphex(plan(f, "05:00.0", PCRESET_SCOPE_FLR, &p, &reason), ==, PCRESET_SCOPE_FLR);
        g_assert_cmpstr(p.kernel_method, ==, "af_flr");
        g_assert_false(p.link);
        g_assert_cmpuint(p.n_affected, ==, 1);
        g_assert_cmpstr(p.domain->name, ==, "0000:00:05.0");
}

static void test_mask_never_exceeded(Fixture *f, gconstpointer data) {
        assert_refused(f, "01:00.0", PCRESET_SCOPE_DEV_SPECIFIC, "offers only flr pm bus");
        assert_refused(f, "01:00.0", PCRESET_SCOPE_ACPI | PCRESET_SCOPE_CXL_BUS, "flr pm bus");
        assert_refused(f, "04:00.0", PCRESET_SCOPE_FLR, "offers only pm");
        /* exhaustively: whatever the mask, the planned bit lies inside it */
        for (uint32_t mask = 1; mask <= PCRESET_SCOPE_KNOWN; mask++) {
                static const char *const devs[] = { "01:00.0", "02:00.0", "03:00.0", "03:00.1", "04:00.0", "05:00.0",
                                                   "00:1f.2" };
                for (size_t i = 0; i < G_N_ELEMENTS(devs); i++) {
                        g_autofree char *reason = NULL;
                        uint32_t got = plan(f, devs[i], mask, NULL, &reason);
                        g_assert_true(got == 0 || ((got & mask) == got && __builtin_popcount(got) == 1));
                }
        }
}

static void test_bus_vs_slot(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r1 = NULL, *r2 = NULL;
        /* alone behind a non-hotplug port: 'bus' is a BUS reset */
        g_assert_cmphex(plan(f, "01:00.0", PCRESET_SCOPE_BUS, &p, &r1), ==, PCRESET_SCOPE_BUS);
        g_assert_cmpstr(p.kernel_method, ==, "bus");
        g_assert_true(p.link);
        g_assert_cmpstr(p.domain->name, ==, "0000:00:01.0");
        assert_refused(f, "01:00.0", PCRESET_SCOPE_SLOT, "bus reset, not allowed");
        /* alone in a hotplug slot: 'bus' is a SLOT reset */
        g_assert_cmphex(plan(f, "02:00.0", PCRESET_SCOPE_LINK, &p, &r2), ==, PCRESET_SCOPE_SLOT);
        g_assert_true(p.link);
        assert_refused(f, "02:00.0", PCRESET_SCOPE_BUS, "slot reset (hotplug slot 2)");
        assert_plan(f, "02:00.0", PCRESET_SCOPE_ANY, PCRESET_SCOPE_FLR);
}

static void test_link_refusals(Fixture *f, gconstpointer data) {
        /* root bus: no bridge to reset it */
        assert_refused(f, "00:1f.2", PCRESET_SCOPE_BUS, "root bus");
        /* NO_BUS_RESET: alone, but the kernel lists no bus */
        assert_refused(f, "04:00.0", PCRESET_SCOPE_LINK, "quirked NO_BUS_RESET");
        assert_plan(f, "00:1f.2", PCRESET_SCOPE_ANY, PCRESET_SCOPE_PM);
        /* bridges are not reset by 'bus' */
        assert_refused(f, "00:01.0", PCRESET_SCOPE_ANY, "no reset_method");
        /* no reset_method at all, and all methods disabled */
        assert_refused(f, "06:00.1", PCRESET_SCOPE_ANY, "no reset_method");
        assert_refused(f, "06:00.0", PCRESET_SCOPE_ANY, "every reset method disabled");
}

static void test_available_scopes(Fixture *f, gconstpointer data) {
        static const struct {
                const char *addr;
                uint32_t scopes;
        } cases[] = {
                { "01:00.0", PCRESET_SCOPE_FLR | PCRESET_SCOPE_PM | PCRESET_SCOPE_BUS },
                { "02:00.0", PCRESET_SCOPE_FLR | PCRESET_SCOPE_SLOT },
                { "03:00.0", PCRESET_SCOPE_FLR | PCRESET_SCOPE_BUS },
                { "03:00.1", PCRESET_SCOPE_FLR | PCRESET_SCOPE_BUS },
                { "07:00.0", PCRESET_SCOPE_FLR | PCRESET_SCOPE_BUS },
                { "0a:00.0", PCRESET_SCOPE_PM | PCRESET_SCOPE_SLOT },
                { "0e:00.0", PCRESET_SCOPE_FLR },
                { "05:00.0", PCRESET_SCOPE_ACPI | PCRESET_SCOPE_FLR | PCRESET_SCOPE_PM },
                { "06:00.1", 0 },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                PciAddress a;
                g_auto(GStrv) methods = NULL;
                pci_address_parse(cases[i].addr, &a);
                PciDevice *d = topology_find(f->topo, &a);
                g_assert_cmpint(reset_method_read(d->syspath, &methods), ==, 0);
                g_assert_cmphex(planner_available_scopes(f->topo, d, methods, &f->env), ==, cases[i].scopes);
        }
}

static const char *const *names_of(const ResetPlan *p) {
        static const char *names[PLAN_MAX_AFFECTED + 1];
        for (size_t i = 0; i < p->n_affected; i++)
                names[i] = p->affected[i]->name;
        names[p->n_affected] = NULL;
        return names;
}

static void assert_names(const ResetPlan *p, const char *const *expected) {
        g_assert_cmpstrv(names_of(p), expected);
}

/* GPU + audio below a port with reset_subordinate: the kernel resets both */
static void test_reset_subordinate(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL;
        g_assert_cmphex(plan(f, "03:00.0", PCRESET_SCOPE_BUS, &p, &r1), ==, PCRESET_SCOPE_BUS);
        g_assert_cmpint(p.mechanism, ==, MECHANISM_RESET_SUBORDINATE);
        g_assert_null(p.kernel_method);
        g_assert_true(p.link);
        g_assert_cmpstr(p.bridge->name, ==, "0000:00:03.0");
        g_assert_cmpstr(p.domain->name, ==, "0000:00:03.0");
        const char *both[] = { "0000:03:00.0", "0000:03:00.1", NULL };
        assert_names(&p, both);
        /* from the other function (whose reset_method never lists bus) too */
        g_assert_cmphex(plan(f, "03:00.1", PCRESET_SCOPE_LINK, &p, &r2), ==, PCRESET_SCOPE_BUS);
        assert_names(&p, both);
        /* the audio function bound to a host driver does not change the
         * plan: the kernel tells the driver; whether it may be touched is
         * ownership's business (DeviceBusy) */
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:03:00.1", "snd_hda_intel"), ==, 0);
        g_assert_cmphex(plan(f, "03:00.0", PCRESET_SCOPE_BUS, &p, &r3), ==, PCRESET_SCOPE_BUS);
        g_assert_cmpint(p.mechanism, ==, MECHANISM_RESET_SUBORDINATE);
        /* SLOT is a different promise: never this */
        assert_refused(f, "03:00.0", PCRESET_SCOPE_SLOT, "bus reset of 2 devices below 0000:00:03.0, not allowed");
}

/* UseResetSubordinate=no, or a kernel without it: the userspace SBR, only
 * when nobody can notice */
static void test_userspace_sbr(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r1 = NULL, *r2 = NULL;
        /* dual NIC: .0 driverless, .1 vfio-pci not open: quiet */
        g_assert_cmphex(plan(f, "07:00.0", PCRESET_SCOPE_BUS, &p, &r1), ==, PCRESET_SCOPE_BUS);
        g_assert_cmpint(p.mechanism, ==, MECHANISM_USERSPACE_SBR);
        const char *nic[] = { "0000:07:00.0", "0000:07:00.1", NULL };
        assert_names(&p, nic);
        /* a host driver takes .1: no longer possible, and the reason says why */
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:07:00.1", "igb"), ==, 0);
        assert_refused(f, "07:00.0", PCRESET_SCOPE_BUS,
                       "a bus reset of 0000:07:00.0 would need reset_subordinate (Linux 6.13+, or a stable kernel with "
                       "it), because 0000:07:00.1 shares the bus and is bound to igb");
        /* vfio-pci again, but open by a VM */
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:07:00.1", "vfio-pci"), ==, 0);
        g_assert_cmpint(faketree_set_open(f->host->root, 4711, "/dev/vfio/71"), >=, 0);
        assert_refused(f, "07:00.0", PCRESET_SCOPE_BUS, "vfio group 71 is open by pid 4711");
        /* the GPU's port has reset_subordinate, but the admin turned it off */
        f->env.use_reset_subordinate = false;
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:03:00.1", "snd_hda_intel"), ==, 0);
        assert_refused(f, "03:00.0", PCRESET_SCOPE_BUS,
                       "would need reset_subordinate, which UseResetSubordinate=no turns off, because 0000:03:00.1 "
                       "shares the bus and is bound to snd_hda_intel");
        g_assert_cmpint(faketree_set_driver(f->host->root, "0000:03:00.1", NULL), ==, 0);
        g_assert_cmphex(plan(f, "03:00.0", PCRESET_SCOPE_BUS, &p, &r2), ==, PCRESET_SCOPE_BUS);
        g_assert_cmpint(p.mechanism, ==, MECHANISM_USERSPACE_SBR);
        /* and with the userspace bus reset off too, nothing */
        f->env.allow_userspace_sbr = false;
        assert_refused(f, "03:00.0", PCRESET_SCOPE_BUS, "UserspaceBusReset=no");
}

static void test_nested_and_hotplug(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r1 = NULL, *r2 = NULL;
        /* a bridge below: our own SBR would not keep it consistent */
        assert_refused(f, "0c:00.0", PCRESET_SCOPE_BUS, "because 0000:0c:01.0 below 0000:00:09.0 is a bridge");
        /* behind a switch, alone below a hotplug downstream port: the kernel's slot path */
        g_assert_cmphex(plan(f, "0a:00.0", PCRESET_SCOPE_LINK, &p, &r1), ==, PCRESET_SCOPE_SLOT);
        g_assert_cmpint(p.mechanism, ==, MECHANISM_KERNEL_METHOD);
        g_assert_cmpstr(p.domain->name, ==, "0000:09:00.0");
        const char *one[] = { "0000:0a:00.0", NULL };
        assert_names(&p, one);
        /* two functions in a hotplug slot: neither SLOT nor BUS, even with reset_subordinate */
        assert_refused(f, "0e:00.0", PCRESET_SCOPE_LINK, "surprise removal to pciehp");
        assert_refused(f, "0e:00.1", PCRESET_SCOPE_BUS, "below hotplug port 0000:00:0a.0");
        /* the function-level methods still work there */
        g_assert_cmphex(plan(f, "0e:00.1", PCRESET_SCOPE_ANY, &p, &r2), ==, PCRESET_SCOPE_FLR);
}

static void test_refresh(Fixture *f, gconstpointer data) {
        bool changed = true;
        PciAddress a;
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_false(changed);
        g_assert_cmpint(faketree_remove_device(f->host->root, "0000:04:00.0"), ==, 0);
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_true(changed);
        pci_address_parse("04:00.0", &a);
        g_assert_null(topology_find(f->topo, &a));
        g_assert_cmpuint(topology_count(f->topo), ==, 30);
        /* the listing taken for that rescan is what the next refresh compares with */
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_false(changed);
        g_assert_cmpint(faketree_remove_device(f->host->root, "0000:00:1f.2"), ==, 0);
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_true(changed);
        g_assert_cmpuint(topology_count(f->topo), ==, 29);
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_false(changed);
}

/* ---- what a reset really touches (SR-IOV, bridges, hotplug ports) ------- */

static const char sriov_desc[] =
        /* an SR-IOV NVMe behind a hotplug port: the PF and two VFs */
        "00:01.0 bridge=root-port hotplug slot=1 secondary=01 driver=pcieport reset_subordinate\n"
        "01:00.0 vendor=1b36 device=0010 class=010802 driver=nvme methods=\"flr bus\"\n"
        "01:00.1 vendor=1b36 device=0010 class=010802 vf-of=01:00.0 methods=\"flr\"\n"
        "01:00.2 vendor=1b36 device=0010 class=010802 vf-of=01:00.0 methods=\"flr\"\n"
        /* a function that is not in the slot (an ARI function) below a hotplug port */
        "00:02.0 bridge=root-port hotplug slot=2 secondary=02 driver=pcieport reset_subordinate\n"
        "02:00.0 vendor=8086 device=1521 class=020000 methods=\"flr\"\n"
        "02:01.0 vendor=8086 device=1521 class=020000 methods=\"flr bus\"\n"
        /* a port with a PM reset of its own, and a device below it */
        "00:03.0 bridge=root-port secondary=03 driver=pcieport methods=\"pm\"\n"
        "03:00.0 vendor=1af4 device=1041 class=020000 methods=\"flr\"\n"
        /* a PF with a VF below a port without reset_subordinate */
        "00:04.0 bridge=root-port secondary=05 driver=pcieport\n"
        "05:00.0 vendor=1b36 device=0010 class=010802 methods=\"flr bus\"\n"
        "05:00.1 vendor=1b36 device=0010 class=010802 vf-of=05:00.0 methods=\"flr\"\n"
        /* an integrated SR-IOV function on the root bus (an iGPU): no bridge above */
        "00:06.0 vendor=8086 device=46a0 class=030000 methods=\"flr\"\n"
        "00:06.1 vendor=8086 device=46a0 class=030000 vf-of=00:06.0 methods=\"flr\"\n";

static void assert_affected(const ResetPlan *p, const char *const *want) {
        size_t n = g_strv_length((char **) want);
        g_assert_cmpuint(p->n_affected, ==, n);
        for (size_t i = 0; i < n; i++)
                g_assert_cmpstr(p->affected[i]->name, ==, want[i]);
}

static void test_sriov(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r1 = NULL, *r2 = NULL;

        /* the PF's FLR clears VF Enable: its VFs are reset with it */
        g_assert_cmphex(plan(f, "01:00.0", PCRESET_SCOPE_FLR, &p, &r1), ==, PCRESET_SCOPE_FLR);
        assert_affected(&p, (const char *const[]) { "0000:01:00.0", "0000:01:00.1", "0000:01:00.2", NULL });
        /* a VF's own FLR touches only that VF */
        g_assert_cmphex(plan(f, "01:00.2", PCRESET_SCOPE_FLR, &p, &r2), ==, PCRESET_SCOPE_FLR);
        assert_affected(&p, (const char *const[]) { "0000:01:00.2", NULL });
        /* a link reset of the PF would take the VFs along below a hotplug port: never */
        assert_refused(f, "01:00.0", PCRESET_SCOPE_LINK, "would also reset 0000:01:00.1 (below hotplug port 0000:00:01.0)");
        /* the userspace bus reset cannot restore VF Enable */
        assert_refused(f, "05:00.1", PCRESET_SCOPE_BUS, "0000:05:00.0 below 0000:00:04.0 is an SR-IOV PF with VFs enabled");

        /* (red team) on the root bus, the PF's reset and its VF's are one
         * domain: the scheduler must never run them side by side */
        g_autofree char *r3 = NULL, *r4 = NULL;
        ResetPlan pf, vf;
        g_assert_cmphex(plan(f, "00:06.0", PCRESET_SCOPE_FLR, &pf, &r3), ==, PCRESET_SCOPE_FLR);
        assert_affected(&pf, (const char *const[]) { "0000:00:06.0", "0000:00:06.1", NULL });
        g_assert_cmphex(plan(f, "00:06.1", PCRESET_SCOPE_FLR, &vf, &r4), ==, PCRESET_SCOPE_FLR);
        g_assert_cmpstr(vf.domain->relpath, ==, pf.domain->relpath);
}

/* (red team) The kernel adds a VF's device, then its physfn link, then
 * sets the PF's sriov_numvfs. A rescan in between saw the VF without its
 * PF, and the topology kept it so until the list of names changed: the
 * PF's FLR left the VF out (no ownership check of it) and, on a root bus,
 * the two resets were in different domains again. A decision about
 * either device (a reset's, or a claim's) now notices and rescans. */
static Decision decide_flr(Fixture *f, const DecisionContext *ctx, const char *address) {
        Holders *h = NULL;
        Decision d = {};
        g_assert_cmpint(holders_scan(f->host->proc, f->host->sys, &h), ==, 0);
        g_assert_cmpint(decision_make(ctx, &(DecisionInput) { .address = address, .mask = PCRESET_SCOPE_FLR,
                                                               .holders = h }, &d), ==, 0);
        holders_free(h);
        g_assert_null(d.error);
        return d;
}

static void test_sriov_links_late(Fixture *f, gconstpointer data) {
        DecisionContext ctx = { .topology = f->topo, .ownership = &f->exec.ownership, .config = &f->config };
        g_autofree char *vf_link = g_build_filename(f->host->sys, "bus/pci/devices/0000:00:06.1/physfn", NULL);
        g_autofree char *pf_link = g_build_filename(f->host->sys, "bus/pci/devices/0000:00:06.0/virtfn0", NULL);
        g_autofree char *numvfs = g_build_filename(f->host->sys, "bus/pci/devices/0000:00:06.0/sriov_numvfs", NULL);
        g_autofree char *vf_target = g_file_read_link(vf_link, NULL), *pf_target = g_file_read_link(pf_link, NULL);
        g_autofree char *msg = NULL;
        PciDevice *vf = NULL;

        g_assert_nonnull(vf_target);
        g_assert_nonnull(pf_target);
        /* the scan lands in the window: the VF is there, its links not yet */
        g_assert_cmpint(unlink(vf_link), ==, 0);
        g_assert_cmpint(unlink(pf_link), ==, 0);
        g_assert_true(g_file_set_contents(numvfs, "0\n", -1, NULL));
        topology_invalidate(f->topo);
        g_assert_null(decision_find_device(&ctx, "0000:00:06.1", &vf, &msg));
        g_assert_null(vf->physfn);
        /* the kernel finishes; the names stay as they were */
        g_assert_cmpint(symlink(vf_target, vf_link), ==, 0);
        g_assert_cmpint(symlink(pf_target, pf_link), ==, 0);
        g_assert_true(g_file_set_contents(numvfs, "1\n", -1, NULL));
        /* the PF's side: it links 1 VF, the topology knew none */
        Decision pf = decide_flr(f, &ctx, "0000:00:06.0");
        assert_affected(&pf.plan, (const char *const[]) { "0000:00:06.0", "0000:00:06.1", NULL });
        decision_done(&pf);

        /* the VF's side: its physfn link is there, the topology had none */
        g_assert_cmpint(unlink(vf_link), ==, 0);
        g_assert_cmpint(unlink(pf_link), ==, 0);
        topology_invalidate(f->topo);
        g_assert_null(decision_find_device(&ctx, "0000:00:06.1", &vf, &msg));
        g_assert_null(vf->physfn);
        g_assert_cmpint(symlink(vf_target, vf_link), ==, 0);
        g_assert_cmpint(symlink(pf_target, pf_link), ==, 0);
        Decision v = decide_flr(f, &ctx, "0000:00:06.1");
        g_assert_cmpstr(v.plan.domain->name, ==, "0000:00:06.0");
        decision_done(&v);

        /* and a claim's lookup, the same way */
        g_assert_cmpint(unlink(vf_link), ==, 0);
        g_assert_cmpint(unlink(pf_link), ==, 0);
        topology_invalidate(f->topo);
        g_assert_null(decision_find_device(&ctx, "0000:00:06.1", &vf, &msg));
        g_assert_null(vf->physfn);
        g_assert_cmpint(symlink(vf_target, vf_link), ==, 0);
        g_assert_cmpint(symlink(pf_target, pf_link), ==, 0);
        g_assert_null(decision_find_current_device(&ctx, "0000:00:06.1", &vf, &msg));
        g_assert_nonnull(vf->physfn);
        g_assert_cmpstr(vf->physfn->name, ==, "0000:00:06.0");
}

static void test_hotplug_rule_from_the_port(Fixture *f, gconstpointer data) {
        /* 02:01.0 is not in slot 2 (device 01), but it sits below the hotplug port all the same */
        assert_refused(f, "02:01.0", PCRESET_SCOPE_BUS, "would also reset 0000:02:00.0 (below hotplug port 0000:00:02.0)");
}

static void test_bridge_function_reset(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r = NULL;

        /* a PM reset of a port disrupts what is below it */
        g_assert_cmphex(plan(f, "00:03.0", PCRESET_SCOPE_PM, &p, &r), ==, PCRESET_SCOPE_PM);
        assert_affected(&p, (const char *const[]) { "0000:00:03.0", "0000:03:00.0", NULL });
        g_assert_true(p.link);
}

/* red team rt7a: an Intel VMD endpoint (type 0 header, class 0104) hosts
 * a PCI domain of its own; the kernel puts that domain's root bus in the
 * endpoint's sysfs directory (.../0000:00:0e.0/pci10000:e0/10000:e0:..),
 * so the devices of the domain are below the endpoint in sysfs, one
 * non-device directory down. A function reset of the endpoint takes the
 * whole domain down with it; has_subtree() only sees direct parents
 * (relpath minus one component), so the domain is skipped. */
static const char vmd_desc[] =
        "00:0e.0 vendor=8086 device=9a0b class=010400 driver=vmd methods=\"flr pm\"\n"
        "10000:00:00.0 vendor=144d device=a808 class=010802 driver=vfio-pci group=77 methods=\"flr\"\n";

static void test_vmd_domain_below(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r = NULL;

        /* move the domain into the endpoint's directory, as the kernel has it */
        g_autofree char *from = g_build_filename(f->host->sys, "devices", "pci10000:00", NULL);
        g_autofree char *to = g_build_filename(f->host->sys, "devices", "pci0000:00", "0000:00:0e.0", "pci10000:00", NULL);
        g_assert_cmpint(rename(from, to), ==, 0);
        g_autofree char *link = g_build_filename(f->host->sys, "bus", "pci", "devices", "10000:00:00.0", NULL);
        g_assert_cmpint(unlink(link), ==, 0);
        g_assert_cmpint(symlink("../../../devices/pci0000:00/0000:00:0e.0/pci10000:00/10000:00:00.0", link), ==, 0);
        topology_free(f->topo);
        g_assert_cmpint(topology_new(f->host->sys, &f->topo), ==, 0);
        PciAddress a;
        g_assert_cmpint(pci_address_parse("10000:00:00.0", &a), ==, 0);
        g_assert_nonnull(topology_find(f->topo, &a)); /* the daemon sees the NVMe */

        g_assert_cmphex(plan(f, "00:0e.0", PCRESET_SCOPE_FLR, &p, &r), ==, PCRESET_SCOPE_FLR);
        /* the NVMe behind VMD is reset with it: it must be checked too */
        assert_affected(&p, (const char *const[]) { "0000:00:0e.0", "10000:00:00.0", NULL });
        /* the endpoint is its parent now, but no bridge: no bus to reset */
        g_autofree char *r2 = NULL;
        g_assert_cmphex(plan(f, "10000:00:00.0", PCRESET_SCOPE_BUS, &p, &r2), ==, 0);
        g_assert_nonnull(strstr(r2, "root bus"));
}

/* The multi-function bit of a function alone in a hotplug slot comes from
 * its header, the only config the topology reads: set, the kernel's slot
 * reset refuses the device, so no SLOT plan may promise one. */
static const char mf_alone_desc[] =
        "00:02.0 bridge=root-port hotplug slot=2 secondary=02 driver=pcieport\n"
        "02:00.0 vendor=144d device=a808 class=010802 multifunction methods=\"flr bus\"\n"
        "00:03.0 bridge=root-port hotplug slot=3 secondary=03 driver=pcieport\n"
        "03:00.0 vendor=144d device=a808 class=010802 methods=\"flr bus\"\n";

static void test_multifunction_alone_in_slot(Fixture *f, gconstpointer data) {
        ResetPlan p;
        g_autofree char *r = NULL, *r2 = NULL;
        PciAddress a;
        g_assert_cmpint(pci_address_parse("02:00.0", &a), ==, 0);
        PciDevice *d = topology_find(f->topo, &a);
        g_assert_true(d->hotplug_slot);
        g_assert_true(d->multifunction);
        g_assert_cmphex(plan(f, "02:00.0", PCRESET_SCOPE_SLOT, &p, &r), ==, 0);
        /* its neighbour without the bit gets its slot reset */
        g_assert_cmphex(plan(f, "03:00.0", PCRESET_SCOPE_SLOT, &p, &r2), ==, PCRESET_SCOPE_SLOT);
}

/* red team rt8a (ownership): a bridge's secondary bus is read once, when
 * the topology first sees it (new_device -> read_facts), and the struct is
 * kept as long as the vendor:device at its address stays (find_known). A
 * hot-added port or switch is listed in sysfs (device_add in
 * pci_device_add) before the kernel scans below it and registers its child
 * bus (pci_scan_bridge_extend -> pci_add_new_bus: <bridge>/pci_bus/DDDD:BB),
 * so a scan in that window (the port's own add uevent, or any call: every
 * call refreshes) records secondary_bus -1 for good. The port never becomes
 * hotplug_port, and the rule "never a several-device bus reset below a
 * hotplug port, whatever function" is lost for the functions that are not
 * in the slot's device number (ARI functions 8+): the daemon plans a
 * reset_subordinate of the whole slot, which pciehp sees as a surprise
 * removal of every function in it. A fresh topology on the very same tree
 * refuses it. */
static void rename_or_die(const char *from, const char *to) {
        g_assert_cmpint(rename(from, to), ==, 0);
}

static void test_rt8a_port_seen_before_its_child_bus(Fixture *f, gconstpointer data) {
        g_autofree char *port = faketree_device_dir(f->host->root, "0000:00:02.0");
        g_autofree char *bus = g_strdup_printf("%s/pci_bus/0000:02", port);
        g_autofree char *bus_away = g_strdup_printf("%s/pci_bus/.away", port);
        g_autofree char *l0 = g_strdup_printf("%s/bus/pci/devices/0000:02:00.0", f->host->sys);
        g_autofree char *l1 = g_strdup_printf("%s/bus/pci/devices/0000:02:01.0", f->host->sys);
        g_autofree char *l0_away = g_strdup_printf("%s/.l0", f->host->root);
        g_autofree char *l1_away = g_strdup_printf("%s/.l1", f->host->root);
        bool changed = false;

        /* steady state: refused (test_hotplug_rule_from_the_port) */
        assert_refused(f, "02:01.0", PCRESET_SCOPE_BUS, "below hotplug port 0000:00:02.0");

        /* the daemon (re)starts or refreshes while the port is listed but
         * its child bus and the functions below are not there yet */
        topology_free(f->topo);
        rename_or_die(bus, bus_away);
        rename_or_die(l0, l0_away);
        rename_or_die(l1, l1_away);
        g_assert_cmpint(topology_new(f->host->sys, &f->topo), ==, 0);
        /* the kernel finishes the scan: the tree is the steady one again */
        rename_or_die(bus_away, bus);
        rename_or_die(l0_away, l0);
        rename_or_die(l1_away, l1);
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_true(changed);

        /* the same sysfs as above: the same answer is due */
        ResetPlan p;
        g_autofree char *r = NULL;
        uint32_t got = plan(f, "02:01.0", PCRESET_SCOPE_BUS, &p, &r);
        if (got)
                g_test_message("planned %s reset of 02:01.0 by %s, touching %zu functions below hotplug port 00:02.0",
                               pcreset_scope_bit_name(got), reset_mechanism_to_string(p.mechanism), p.n_affected);
        g_assert_cmphex(got, ==, 0);
        g_assert_nonnull(strstr(r, "below hotplug port 0000:00:02.0"));
}

/* red team rt8a (reset kind): multifunction_known is sticky. A PF alone in
 * a hotplug slot whose VFs sit in the same slot (VF offset 1, stride 1: VFs
 * at 01:00.1, 01:00.2) is taken as multi-function while they exist
 * (derive_multifunction: "another function in the same slot means it is
 * set"), and stays so when sriov_numvfs goes back to 0. Its header has no
 * multi-function bit (VFs are not functions of the device's slot; the
 * kernel's pci_iov_add_virtfn never touches the PF's multifunction), so
 * the kernel's "bus" method runs pci_dev_reset_slot_function(): a slot
 * reset. The daemon, which decides SLOT vs BUS from multifunction, says BUS
 * (and refuses a SLOT-only mask, and lets a BUS-only mask through to a
 * slot reset). A fresh topology of the same tree says SLOT. */
static void test_rt8a_pf_multifunction_sticky(Fixture *f, gconstpointer data) {
        g_autofree char *pfdir = faketree_device_dir(f->host->root, "0000:01:00.0");
        g_autofree char *cfg = g_build_filename(pfdir, "config", NULL);
        g_autofree char *r = NULL;
        bool changed = false;
        ResetPlan p;

        /* the PF's own header: a single-function device (faketree sets bit 7
         * on every function sharing a slot, VFs included; the kernel's PF
         * header does not have it) */
        int fd = open(cfg, O_RDWR);
        g_assert_cmpint(fd, >=, 0);
        uint8_t ht;
        g_assert_cmpint(pread(fd, &ht, 1, 0x0e), ==, 1);
        ht &= 0x7f;
        g_assert_cmpint(pwrite(fd, &ht, 1, 0x0e), ==, 1);
        close(fd);
        /* the daemon starts with the VFs there: they make no multi-function PF */
        topology_free(f->topo);
        g_assert_cmpint(topology_new(f->host->sys, &f->topo), ==, 0);
        PciAddress pf;
        g_assert_cmpint(pci_address_parse("01:00.0", &pf), ==, 0);
        g_assert_false(topology_find(f->topo, &pf)->multifunction);

        /* sriov_numvfs=0 */
        g_assert_cmpint(faketree_remove_device(f->host->root, "0000:01:00.1"), ==, 0);
        g_assert_cmpint(faketree_remove_device(f->host->root, "0000:01:00.2"), ==, 0);
        g_assert_cmpint(topology_refresh(f->topo, &changed), ==, 0);
        g_assert_true(changed);

        /* a daemon started now would say SLOT */
        Topology *fresh = NULL;
        g_assert_cmpint(topology_new(f->host->sys, &fresh), ==, 0);
        PciAddress a;
        g_assert_cmpint(pci_address_parse("01:00.0", &a), ==, 0);
        g_assert_false(topology_find(fresh, &a)->multifunction);
        topology_free(fresh);

        /* the daemon that saw the VFs */
        g_assert_false(topology_find(f->topo, &a)->multifunction);
        g_assert_cmphex(plan(f, "01:00.0", PCRESET_SCOPE_LINK, &p, &r), ==, PCRESET_SCOPE_SLOT);
}

/* red team rt8a (reset kind): the kernel's multifunction of a function
 * other than 0 is always set (pci_scan_slot: "if (fn > 0)
 * dev->multifunction = 1"), whatever its header says. A function > 0 alone
 * in a hotplug slot (function 0 removed through sysfs remove after boot,
 * or a hypervisor that passes functions through alone, Jailhouse / s390)
 * has no sibling, so derive_multifunction asks its header, which for a
 * function > 0 need not have bit 7 (it is defined for function 0): the
 * daemon promises a SLOT reset, the kernel's "bus" method refuses the slot
 * path for a multi-function device and falls back to
 * pci_parent_bus_reset(): a raw Secondary Bus Reset of the hotplug port,
 * not masked from pciehp. */
static const char rt8a_fn_alone_desc[] =
        "00:02.0 bridge=root-port hotplug slot=2 secondary=02 driver=pcieport\n"
        "02:00.1 vendor=10de device=10f8 class=040300 methods=\"flr bus\"\n";

static void test_rt8a_function_above_0_alone(Fixture *f, gconstpointer data) {
        assert_plan(f, "02:00.1", PCRESET_SCOPE_LINK, PCRESET_SCOPE_BUS);
}

/* ---- ListDevices: one call's facts --------------------------------------- */

typedef struct Described {
        DeviceState state;
        char *reason, *driver, *methods;
        uint32_t scopes;
} Described;

static void described_clear(Described *x) {
        g_free(x->reason);
        g_free(x->driver);
        g_free(x->methods);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Described, described_clear)

static Described describe(Fixture *f, const DecisionContext *ctx, DecisionFacts *facts, Holders *h, PciDevice *d,
                          uid_t uid) {
        DeviceVerdict v = {};
        uint32_t scopes = 0;
        char **methods = NULL;
        g_assert_cmpint(decision_describe_device(ctx, d, uid, h, facts, &v, &scopes, &methods), ==, 0);
        Described x = { .state = v.state, .reason = g_strdup(v.reason), .driver = g_strdup(v.driver),
                        .methods = methods ? g_strjoinv(" ", methods) : NULL, .scopes = scopes };
        device_verdict_done(&v);
        strv_free(methods);
        return x;
}

/* What ListDevices says, with one call's shared facts, equals what each
 * question reading its own says; and a change between two calls is seen by
 * the second: nothing is kept from one call to the next. */
static void test_list_facts_per_call(Fixture *f, gconstpointer data) {
        f->config.userspace_bus_reset = true;   /* quiet checks on 07:00.x */
        DecisionContext ctx = { .topology = f->topo, .ownership = &f->exec.ownership, .config = &f->config };
        PciAddress a;

        for (unsigned call = 0; call < 2; call++) {
                Holders *h = NULL;
                g_assert_cmpint(holders_scan(f->host->proc, f->host->sys, &h), ==, 0);
                DecisionFacts *facts = decision_facts_new(&ctx);
                g_assert_nonnull(facts);
                for (size_t i = 0; i < topology_count(f->topo); i++)
                        for (uid_t uid = 0; uid <= 4101; uid += 4101) {
                                PciDevice *d = topology_get(f->topo, i);
                                g_auto(Described) shared = describe(f, &ctx, facts, h, d, uid);
                                g_auto(Described) own = describe(f, &ctx, NULL, h, d, uid);
                                g_assert_cmpint(shared.state, ==, own.state);
                                g_assert_cmpstr(shared.reason, ==, own.reason);
                                g_assert_cmpstr(shared.driver, ==, own.driver);
                                g_assert_cmpstr(shared.methods, ==, own.methods);
                                g_assert_cmphex(shared.scopes, ==, own.scopes);
                        }

                pci_address_parse("07:00.0", &a);
                g_auto(Described) nic0 = describe(f, &ctx, facts, h, topology_find(f->topo, &a), 0);
                pci_address_parse("07:00.1", &a);
                g_auto(Described) nic1 = describe(f, &ctx, facts, h, topology_find(f->topo, &a), 0);
                if (call == 0) {
                        /* .1 on vfio-pci, not open: quiet, so .0 gets a userspace bus reset */
                        g_assert_cmphex(nic0.scopes, ==, PCRESET_SCOPE_FLR | PCRESET_SCOPE_BUS);
                        g_assert_cmpstr(nic1.driver, ==, "vfio-pci");
                        g_assert_cmpint(nic1.state, ==, DEVICE_IDLE);
                } else {
                        /* a host driver took .1 between the calls */
                        g_assert_cmphex(nic0.scopes, ==, PCRESET_SCOPE_FLR);
                        g_assert_cmpstr(nic1.driver, ==, "igb");
                        g_assert_cmpint(nic1.state, ==, DEVICE_BUSY);
                }
                decision_facts_free(facts);
                holders_free(h);
                g_assert_cmpint(faketree_set_driver(f->host->root, "0000:07:00.1", "igb"), ==, 0);
        }

        /* ListDevices reads the bindings from the drivers' side; a function
         * two drivers list (a rebind caught halfway) reads its own link.
         * Here two wrong ones list it (whichever readdir gives last), and
         * only its own link says igb. */
        g_autofree char *stub = g_build_filename(f->host->sys, "bus/pci/drivers/pci-stub", NULL);
        g_autofree char *stub_link = g_build_filename(stub, "0000:07:00.1", NULL);
        g_autofree char *e1000e_link = g_build_filename(f->host->sys, "bus/pci/drivers/e1000e/0000:07:00.1", NULL);
        g_autofree char *igb_link = g_build_filename(f->host->sys, "bus/pci/drivers/igb/0000:07:00.1", NULL);
        g_autofree char *dir = faketree_device_dir(f->host->root, "0000:07:00.1");
        g_assert_cmpint(g_mkdir_with_parents(stub, 0755), ==, 0);
        g_assert_cmpint(symlink(dir, stub_link), ==, 0);
        g_assert_cmpint(symlink(dir, e1000e_link), ==, 0);
        g_assert_cmpint(unlink(igb_link), ==, 0);
        Holders *h = NULL;
        g_assert_cmpint(holders_scan(f->host->proc, f->host->sys, &h), ==, 0);
        DecisionFacts *facts = decision_facts_new(&ctx);
        pci_address_parse("07:00.1", &a);
        g_auto(Described) nic1 = describe(f, &ctx, facts, h, topology_find(f->topo, &a), 0);
        g_assert_cmpstr(nic1.driver, ==, "igb");
        pci_address_parse("01:00.0", &a);
        g_auto(Described) e1000e = describe(f, &ctx, facts, h, topology_find(f->topo, &a), 0);
        g_assert_cmpstr(e1000e.driver, ==, "e1000e");
        decision_facts_free(facts);
        holders_free(h);
}

/* ---- subtrees on generated trees, against a brute-force oracle ---------- */

/* One function of a generated host, as the generator placed it: the oracle
 * knows the tree from here, never from the topology code. */
typedef struct GenFn {
        char name[PCI_ADDRESS_MAX];     /* "dddd:bb:dd.f": strcmp order is address order */
        int parent;                     /* index of the upstream bridge, -1 on a root bus */
        int physfn;                     /* an SR-IOV VF's PF, -1 otherwise */
        bool bridge;
        bool removed;
} GenFn;

typedef struct Gen {
        GString *desc;
        GArray *fns;                    /* GenFn */
        unsigned next_bus;
        unsigned budget;                /* functions still to place in this domain */
} Gen;

static int gen_add(Gen *g, unsigned domain, unsigned bus, unsigned dev, unsigned fn, int parent) {
        GenFn x = { .parent = parent, .physfn = -1 };
        PciAddress a = { .domain = domain, .bus = (uint8_t) bus, .dev = (uint8_t) dev, .func = (uint8_t) fn };
        pci_address_format(&a, x.name);
        g_array_append_val(g->fns, x);
        g->budget = g->budget > 0 ? g->budget - 1 : 0;
        return (int) g->fns->len - 1;
}

/* Fills bus (below bridge parent, -1: a root bus) with random slots of
 * endpoints, SR-IOV functions and bridges; the bridges' buses are numbered
 * depth-first in a random order of the bridges, with random gaps, so a
 * subtree's address order is neither its depth-first order nor its
 * parent's slot order. */
static void gen_bus(Gen *g, unsigned domain, unsigned bus, int parent, unsigned depth, bool conventional) {
        unsigned devs[32], n_slots = (unsigned) g_test_rand_int_range(bus == 0 ? 2 : 1, 6);
        GArray *bridges = g_array_new(FALSE, FALSE, sizeof(int));

        for (unsigned i = 0; i < 32; i++)
                devs[i] = i;
        for (unsigned i = 0; i < 32; i++) {
                unsigned j = (unsigned) g_test_rand_int_range((int) i, 32), t = devs[i];
                devs[i] = devs[j];
                devs[j] = t;
        }
        for (unsigned s = 0; s < n_slots && g->budget > 0; s++) {
                unsigned nf = g_test_rand_int_range(0, 3) == 0 ? (unsigned) g_test_rand_int_range(2, 9) : 1;
                bool sriov = !conventional && nf > 1 && g_test_rand_int_range(0, 3) == 0;
                int pf = -1;
                for (unsigned f = 0; f < nf; f++) {
                        int i = gen_add(g, domain, bus, devs[s], f, parent);
                        GenFn *x = &g_array_index(g->fns, GenFn, i);
                        bool bridge = !sriov && depth < 4 && g->next_bus + 4 < 0xff && g->budget > 4 &&
                                      g_test_rand_int_range(0, 100) < (bus == 0 ? 70 : 30);
                        if (bridge) {
                                x->bridge = true;
                                g_array_append_val(bridges, i);
                        } else if (sriov && f > 0) {
                                x->physfn = pf;
                                g_string_append_printf(g->desc, "%s vf-of=%s\n", x->name,
                                                       g_array_index(g->fns, GenFn, pf).name);
                        } else {
                                g_string_append_printf(g->desc, "%s\n", x->name);
                                if (sriov)
                                        pf = i;
                        }
                }
        }
        for (unsigned k = 0; k < bridges->len; k++) {
                unsigned j = (unsigned) g_test_rand_int_range((int) k, (int) bridges->len);
                int i = g_array_index(bridges, int, j);
                g_array_index(bridges, int, j) = g_array_index(bridges, int, k);
                g_array_index(bridges, int, k) = i;

                bool pci = conventional || (bus != 0 && g_test_rand_int_range(0, 3) == 0);
                unsigned secondary = g->next_bus++;
                gen_bus(g, domain, secondary, i, depth + 1, pci);
                g->next_bus += MIN((unsigned) g_test_rand_int_range(0, 3), 0xffu - g->next_bus);
                g_string_append_printf(g->desc, "%s bridge=%s secondary=%02x subordinate=%02x reset_subordinate "
                                       "methods=pm\n", g_array_index(g->fns, GenFn, i).name,
                                       bus == 0 ? "root-port" : pci ? "pci" : "downstream", secondary,
                                       g->next_bus - 1);
        }
        g_array_unref(bridges);
}

static bool gen_is_below(const GArray *fns, int x, int b) {
        for (int p = g_array_index(fns, GenFn, x).parent; p >= 0; p = g_array_index(fns, GenFn, p).parent)
                if (p == b)
                        return true;
        return false;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The oracle: every function present whose chain of generated parents (or
 * whose PF, with vfs) passes through b, sorted by name. */
static char **oracle(const GArray *fns, int b, bool vfs) {
        GPtrArray *l = g_ptr_array_new();
        for (unsigned i = 0; i < fns->len; i++) {
                const GenFn *x = &g_array_index(fns, GenFn, i);
                if (!x->removed && (vfs ? x->physfn == b : gen_is_below(fns, (int) i, b)))
                        g_ptr_array_add(l, g_strdup(x->name));
        }
        if (l->len > 0)   /* pdata is NULL while empty */
                qsort(l->pdata, l->len, sizeof(char *), name_cmp);
        g_ptr_array_add(l, NULL);
        return (char **) g_ptr_array_free(l, FALSE);
}

static char **names_of_list(PciDevice *const *l, size_t n) {
        char **v = g_new0(char *, n + 1);
        for (size_t i = 0; i < n; i++)
                v[i] = g_strdup(l[i]->name);
        return v;
}

static void check_against_oracle(Fixture *f, const GArray *fns, GHashTable *index) {
        static PciDevice *got[4096];
        size_t n = topology_count(f->topo), present = 0;

        for (unsigned i = 0; i < fns->len; i++)
                present += !g_array_index(fns, GenFn, i).removed;
        g_assert_cmpuint(n, ==, present);
        for (size_t i = 0; i < n; i++) {
                PciDevice *d = topology_get(f->topo, i);
                g_assert_true(g_hash_table_contains(index, d->name));
                int k = GPOINTER_TO_INT(g_hash_table_lookup(index, d->name));
                const GenFn *x = &g_array_index(fns, GenFn, k);
                g_assert_false(x->removed);
                if (i > 0)
                        g_assert_cmpstr(topology_get(f->topo, i - 1)->name, <, d->name);
                g_assert_cmpstr(d->parent ? d->parent->name : "", ==,
                                x->parent >= 0 ? g_array_index(fns, GenFn, x->parent).name : "");

                g_auto(GStrv) want = oracle(fns, k, false), want_vfs = oracle(fns, k, true);
                size_t nb = topology_below(f->topo, d, got, G_N_ELEMENTS(got));
                g_assert_cmpuint(nb, <=, G_N_ELEMENTS(got));
                g_auto(GStrv) have = names_of_list(got, nb);
                g_assert_cmpstrv(have, want);
                size_t nv = topology_vfs(f->topo, d, got, G_N_ELEMENTS(got));
                g_auto(GStrv) have_vfs = names_of_list(got, nv);
                g_assert_cmpstrv(have_vfs, want_vfs);

                /* bus siblings: same generated parent, same bus */
                GPtrArray *sib = g_ptr_array_new_with_free_func(g_free);
                for (unsigned j = 0; j < fns->len; j++) {
                        const GenFn *o = &g_array_index(fns, GenFn, j);
                        if ((int) j != k && !o->removed && o->parent == x->parent && !strncmp(o->name, x->name, 7))
                                g_ptr_array_add(sib, g_strdup(o->name));
                }
                if (sib->len > 0)
                        qsort(sib->pdata, sib->len, sizeof(char *), name_cmp);
                g_ptr_array_add(sib, NULL);
                size_t ns = topology_bus_siblings(f->topo, d, got, G_N_ELEMENTS(got));
                g_auto(GStrv) have_sib = names_of_list(got, ns);
                g_assert_cmpstrv(have_sib, (char **) sib->pdata);
                g_ptr_array_unref(sib);

                for (size_t j = 0; j < n; j++) {
                        PciDevice *o = topology_get(f->topo, j);
                        int ko = GPOINTER_TO_INT(g_hash_table_lookup(index, o->name));
                        g_assert_cmpint(pci_device_is_below(o, d), ==, gen_is_below(fns, ko, k));
                }

                /* what the planner makes of it: a bridge's own reset takes its
                 * subtree along; an endpoint's bus reset, its bridge's */
                ResetPlan p;
                g_autofree char *reason = NULL;
                if (x->bridge) {
                        g_assert_cmphex(plan(f, d->name, PCRESET_SCOPE_PM, &p, &reason), ==, PCRESET_SCOPE_PM);
                        g_assert_cmpuint(p.n_affected, ==, g_strv_length(want) + 1);
                        g_assert_true(p.affected[0] == d);
                        g_auto(GStrv) aff = names_of_list(p.affected + 1, p.n_affected - 1);
                        g_assert_cmpstrv(aff, want);
                } else if (d->parent) {
                        int kp = GPOINTER_TO_INT(g_hash_table_lookup(index, d->parent->name));
                        g_auto(GStrv) bus = oracle(fns, kp, false);
                        g_assert_cmphex(plan(f, d->name, PCRESET_SCOPE_BUS, &p, &reason), ==, PCRESET_SCOPE_BUS);
                        g_auto(GStrv) aff = names_of_list(p.affected, p.n_affected);
                        g_assert_cmpint(p.mechanism, ==, g_strv_length(bus) == 1 ? MECHANISM_KERNEL_METHOD
                                                                                 : MECHANISM_RESET_SUBORDINATE);
                        g_assert_cmpstrv(aff, bus);
                }
        }
}

static void test_subtrees_generated(void) {
        for (unsigned round = 0; round < 6; round++) {
                Gen g = { .desc = g_string_new(NULL), .fns = g_array_new(FALSE, FALSE, sizeof(GenFn)) };
                static const unsigned domains[] = { 0x0000, 0x0001, 0x0010 };
                unsigned n_domains = round % 3 + 1;
                for (unsigned i = 0; i < n_domains; i++) {
                        g.next_bus = 1;
                        g.budget = (unsigned) g_test_rand_int_range(10, 50);
                        gen_bus(&g, domains[i], 0, -1, 0, false);
                }
                g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal);
                for (unsigned i = 0; i < g.fns->len; i++)
                        g_hash_table_insert(index, g_array_index(g.fns, GenFn, i).name, GINT_TO_POINTER((int) i));
                g_test_message("round %u: %u functions in %u domain(s)", round, g.fns->len, n_domains);

                Fixture f = {};
                fixture_setup(&f, g.desc->str);
                check_against_oracle(&f, g.fns, index);

                /* hot-remove one bridge (with its subtree) or endpoint, not a
                 * PF; the rescan keeps the other structs and relinks them */
                for (unsigned tries = 0; tries < 100; tries++) {
                        int k = g_test_rand_int_range(0, (int) g.fns->len);
                        bool pf = false;
                        for (unsigned j = 0; j < g.fns->len; j++)
                                pf = pf || g_array_index(g.fns, GenFn, j).physfn == k;
                        if (pf)
                                continue;
                        g_assert_cmpint(faketree_remove_device(f.host->root, g_array_index(g.fns, GenFn, k).name), ==, 0);
                        for (unsigned j = 0; j < g.fns->len; j++)
                                if ((int) j == k || gen_is_below(g.fns, (int) j, k))
                                        g_array_index(g.fns, GenFn, j).removed = true;
                        break;
                }
                bool changed = false;
                g_assert_cmpint(topology_refresh(f.topo, &changed), ==, 0);
                g_assert_true(changed);
                check_against_oracle(&f, g.fns, index);

                fixture_teardown(&f, NULL);
                g_string_free(g.desc, TRUE);
                g_array_unref(g.fns);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/planner/topology", test_topology);
        ADD("/planner/function-scopes", test_function_scopes);
        ADD("/planner/mask-never-exceeded", test_mask_never_exceeded);
        ADD("/planner/bus-vs-slot", test_bus_vs_slot);
        ADD("/planner/link-refusals", test_link_refusals);
        ADD("/planner/available-scopes", test_available_scopes);
        ADD("/planner/refresh", test_refresh);
        ADD("/planner/reset-subordinate", test_reset_subordinate);
        ADD("/planner/userspace-sbr", test_userspace_sbr);
        ADD("/planner/nested-and-hotplug", test_nested_and_hotplug);
        ADD("/planner/list-facts-per-call", test_list_facts_per_call);
        g_test_add("/planner/sriov", Fixture, sriov_desc, fixture_setup, test_sriov, fixture_teardown);
        g_test_add("/planner/sriov-links-late", Fixture, sriov_desc, fixture_setup, test_sriov_links_late,
                   fixture_teardown);
        g_test_add("/planner/hotplug-rule-from-the-port", Fixture, sriov_desc, fixture_setup,
                   test_hotplug_rule_from_the_port, fixture_teardown);
        g_test_add("/planner/bridge-function-reset", Fixture, sriov_desc, fixture_setup, test_bridge_function_reset,
                   fixture_teardown);
        g_test_add_func("/planner/subtrees-generated", test_subtrees_generated);
        g_test_add("/planner/multifunction-alone-in-slot", Fixture, mf_alone_desc, fixture_setup, test_multifunction_alone_in_slot,
                   fixture_teardown);
        g_test_add("/planner/vmd-domain-below", Fixture, vmd_desc, fixture_setup, test_vmd_domain_below,
                   fixture_teardown);
        g_test_add("/planner/attack/port-seen-before-its-child-bus", Fixture, sriov_desc, fixture_setup,
                   test_rt8a_port_seen_before_its_child_bus, fixture_teardown);
        g_test_add("/planner/attack/pf-multifunction-sticky", Fixture, sriov_desc, fixture_setup,
                   test_rt8a_pf_multifunction_sticky, fixture_teardown);
        g_test_add("/planner/attack/function-above-0-alone", Fixture, rt8a_fn_alone_desc, fixture_setup,
                   test_rt8a_function_above_0_alone, fixture_teardown);
        return g_test_run();
}
