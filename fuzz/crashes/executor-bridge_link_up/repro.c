/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reproducer for executor.c bridge_link_up() reading past its 256-byte copy
 * of a bridge's config space (no fuzz target reaches it: it is static and
 * runs on the executor's path only). The input is the bridge's 256 config
 * bytes; this builds a fake host with that bridge above one endpoint and
 * runs a real FLR of the endpoint through executor_run().
 *
 *   B=build-fuzz; clang-14 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE \
 *       -Idaemon -Idbus -Itests/fixtures $(pkg-config --cflags glib-2.0) \
 *       fuzz/crashes/executor-bridge_link_up/repro.c $B/fuzz/libpcresetd-core-fuzz.a \
 *       $B/tests/fixtures/libfaketree.a $B/daemon/libpcresetd-core.a \
 *       $(pkg-config --libs glib-2.0 libsystemd libpci inih) -lpthread -o /tmp/repro-link
 *   /tmp/repro-link fuzz/crashes/executor-bridge_link_up/bridge-config-pcie-cap-at-0xfc
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claims.h"
#include "config.h"
#include "executor.h"
#include "faketree.h"
#include "planner.h"
#include "topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char root[] = "/tmp/pcreset-repro-XXXXXX", path[4200], sys[4200], state[4200], proc[4200], dev[4200];
        GError *error = NULL;
        uint8_t cfg[256];
        Topology *t;
        Config c;
        Claims *claims;

        if (size < 256 || !mkdtemp(root) ||
            faketree_build_from_string("00:02.0 bridge=root-port secondary=02\n"
                                       "02:00.0 vendor=144d device=a808 class=010802 methods=\"flr\"\n", root,
                                       &error) < 0)
                return 0;
        /* the bridge's config as the kernel would show it */
        char *bridge = faketree_device_dir(root, "00:02.0");
        snprintf(path, sizeof path, "%s/config", bridge);
        memcpy(cfg, data, sizeof cfg);
        int fd = open(path, O_WRONLY);
        if (fd < 0 || pwrite(fd, cfg, sizeof cfg, 0) != sizeof cfg)
                abort();
        close(fd);

        snprintf(sys, sizeof sys, "%s/sys", root);
        snprintf(state, sizeof state, "%s/state", root);
        snprintf(proc, sizeof proc, "%s/proc", root);
        snprintf(dev, sizeof dev, "%s/dev", root);
        if (mkdir(state, 0700) < 0 || topology_new(sys, &t) < 0)
                abort();
        config_init(&c);
        if (claims_new(state, &claims) < 0)
                abort();
        ExecContext ctx = {
                .sysfs_root = sys, .state_dir = state,
                .ownership = { .dev_root = dev, .proc_root = proc, .config = &c, .claims = claims },
        };
        PciAddress a;
        char *methods[] = { (char *) "flr", NULL }, *reason = NULL;
        ResetPlan plan;
        ExecRequest req;
        ExecResult res;
        if (pci_address_parse("0000:02:00.0", &a) < 0 ||
            planner_plan(t, topology_find(t, &a), PCRESET_SCOPE_FLR, methods, NULL, &plan, &reason) < 0 ||
            exec_request_from_plan(&plan, 0, NULL, &req) < 0)
                abort();
        executor_run(&ctx, &req, &res);   /* -> bridge_link_up(&req->bridge) */
        fprintf(stderr, "FLR of 0000:02:00.0: status %d %s\n", res.status, res.message ?: "");
        exit(0);
}
