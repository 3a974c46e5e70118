/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The fake host of the OCI hook and CDI tests (test-oci-hook.c,
 * test-cdi.c): a GPU with its audio function in IOMMU group 12, an NVMe in
 * group 20, the host's NIC in group 5.
 *
 * The fake host's tables make ordinary character devices stand in for open
 * VFIO nodes: <root>/proc/devices says major 1 is "vfio" and major 10 is
 * "vfio-dev", <root>/sys/dev/char/1:3 leads to VFIO group 12, 1:5 to group
 * 20, and 10:229 to the cdev vfio3 of 0000:02:00.1. The hook's --dev-root
 * is a directory where vfio/12 is a symlink to /dev/null, vfio/20 to
 * /dev/zero and vfio/devices/vfio3 to /dev/fuse: the fds it opens there are
 * proofs the daemon accepts. 0000:02:00.1 is bound to a host driver
 * (snd_hda_intel): only a proof makes it the caller's, so a completed reset
 * of it shows the fds reached the daemon and counted.
 */

#include <sys/stat.h>
#include <unistd.h>

#include "client-test.h"

static const char host_desc[] =
        /* the host's NIC: never the container's */
        "00:01.0 bridge=root-port secondary=01 driver=pcieport\n"
        "01:00.0 vendor=8086 device=10d3 class=020000 driver=e1000e group=5 methods=\"flr pm bus\"\n"
        /* the container's GPU (vfio-pci, idle) and its audio function, which
         * the host's driver holds: group 12 */
        "00:02.0 bridge=root-port secondary=02 driver=pcieport\n"
        "02:00.0 vendor=10de device=1eb8 class=030000 driver=vfio-pci group=12 methods=\"flr bus\"\n"
        "02:00.1 vendor=10de device=10f8 class=040300 driver=snd_hda_intel group=12 cdev=vfio3 methods=\"flr\"\n"
        /* an NVMe that can only be reset with its slot: group 20 */
        "00:03.0 bridge=root-port hotplug slot=3 secondary=03 driver=pcieport\n"
        "03:00.0 vendor=144d device=a808 class=010802 driver=vfio-pci group=20 methods=\"bus\"\n";

#define ANN_DEVICES "org.freedesktop.pcreset.devices"
#define ANN_SCOPE "org.freedesktop.pcreset.scope"
#define ANN_REQUIRED "org.freedesktop.pcreset.required"

#define NODE_VFIO "{\"path\":\"/dev/vfio/vfio\",\"type\":\"c\",\"major\":10,\"minor\":196}"
#define NODE_12 "{\"path\":\"/dev/vfio/12\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":438}"
#define NODE_20 "{\"path\":\"/dev/vfio/20\",\"type\":\"c\",\"major\":1,\"minor\":5}"
#define NODE_VFIO3 "{\"path\":\"/dev/vfio/devices/vfio3\",\"type\":\"c\",\"major\":10,\"minor\":229}"

static inline void symlink_or_die(const char *target, const char *path) {
        g_autofree char *dir = g_path_get_dirname(path);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_cmpint(symlink(target, path), ==, 0);
}

static inline void fixture_setup(Fixture *f, gconstpointer data) {
        fixture_build(f, host_desc);
        const char *root = harness_fake_root(f->h);
        g_autofree char *devices = g_build_filename(root, "proc", "devices", NULL);
        g_assert_true(g_file_set_contents(devices, "Character devices:\n  1 vfio\n  4 tty\n 10 vfio-dev\n\n"
                                          "Block devices:\n  8 sd\n", -1, NULL));
        static const struct {
                const char *devnum, *target;
        } links[] = {
                { "1:3", "../../devices/virtual/vfio/12" },
                { "1:5", "../../devices/virtual/vfio/20" },
                { "10:229", "../../devices/pci0000:00/0000:00:02.0/0000:02:00.1/vfio-dev/vfio3" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
                g_autofree char *link = g_build_filename(root, "sys", "dev", "char", links[i].devnum, NULL);
                symlink_or_die(links[i].target, link);
        }
        for (const char *g = "12\0" "20\0"; *g; g += strlen(g) + 1) {
                g_autofree char *dir = g_build_filename(root, "sys", "devices", "virtual", "vfio", g, NULL);
                g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        }
        /* the host's /dev as the hook sees it */
        g_autofree char *dev = g_build_filename(harness_dir(f->h), "hostdev", NULL);
        g_autofree char *n12 = g_build_filename(dev, "vfio", "12", NULL);
        g_autofree char *n20 = g_build_filename(dev, "vfio", "20", NULL);
        g_autofree char *c3 = g_build_filename(dev, "vfio", "devices", "vfio3", NULL);
        symlink_or_die("/dev/null", n12);
        symlink_or_die("/dev/zero", n20);
        symlink_or_die("/dev/fuse", c3);
}

static inline char *host_dev(Fixture *f) {
        return g_build_filename(harness_dir(f->h), "hostdev", NULL);
}

static inline char *fake_sys(Fixture *f) {
        return g_build_filename(harness_fake_root(f->h), "sys", NULL);
}
