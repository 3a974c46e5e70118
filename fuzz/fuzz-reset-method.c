/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A device's reset_method text: the kernel's, or whatever an admin (or a
 * FUSE-backed test) wrote. reset_method_read() reads it from a
 * sysfs-like directory whose reset_method file holds the input, and the
 * planner then plans with that list for a device of a tiny fixed topology
 * and every mask the daemon accepts (the 127 combinations of known bits,
 * and ANY), with the daemon's settings, with both link helpers off, or
 * with defaults (device and settings picked by the input's length).
 * Checks:
 *   - the words are exactly the input's blank-separated words (up to the
 *     first NUL, in the first 4095 bytes: what one read() of sysfs gives);
 *   - a plan uses one scope bit, inside the mask, through a method the list
 *     offers (or a link mechanism the settings allow), and touches the
 *     target; a refusal says why;
 *   - plans agree with planner_available_scopes() (ListDevices shows what
 *     ResetDevice then does): a mask plans iff it meets the available
 *     scopes, and the bit a mask plans plans on its own too.
 */

#include <errno.h>
#include <string.h>

#include "executor.h"
#include "reset-method.h"
#include "faketree.h"
#include "fuzz-util.h"
#include "planner.h"
#include "topology.h"
#include "util.h"

#define DEVICE_NAME "0000:01:00.0"

/* Every planner path: a root-bus device, alone below a plain port (BUS),
 * alone in a hotplug slot (SLOT), two functions in a hotplug slot (never),
 * two functions below a reset_subordinate port, two quiet functions (a
 * userspace SBR), a busy sibling (refused), an endpoint beside a bridge. */
static const char host_desc[] =
        "00:1f.0 vendor=8086 device=2918 class=060100\n"
        "00:01.0 bridge=root-port secondary=01\n"
        "01:00.0 vendor=144d device=a808 class=010802\n"
        "00:02.0 bridge=root-port hotplug slot=2 secondary=02\n"
        "02:00.0 vendor=1af4 device=1041 class=020000\n"
        "00:03.0 bridge=root-port hotplug slot=3 secondary=03 reset_subordinate\n"
        "03:00.0 vendor=10de device=1eb8 class=030000\n"
        "03:00.1 vendor=10de device=10f8 class=040300\n"
        "00:04.0 bridge=root-port secondary=04 reset_subordinate\n"
        "04:00.0 vendor=8086 device=1521 class=020000\n"
        "04:00.1 vendor=8086 device=1521 class=020000\n"
        "00:05.0 bridge=root-port secondary=05\n"
        "05:00.0 vendor=8086 device=1521 class=020000\n"
        "05:00.1 vendor=8086 device=1521 class=020000\n"
        "00:06.0 bridge=root-port secondary=06\n"
        "06:00.0 vendor=8086 device=1521 class=020000\n"
        "06:00.1 vendor=8086 device=1521 class=020000\n"
        "00:07.0 bridge=root-port secondary=07 subordinate=08\n"
        "07:00.0 vendor=1234 device=0004 class=ff0000\n"
        "07:01.0 bridge=pci secondary=08\n"
        "08:00.0 vendor=1234 device=0005 class=ff0000\n";

static Topology *topology;
static ExecContext exec_ctx;
static char *device_dir, *reset_method_path;

/* Deterministic stand-in for the /proc scan: 06:00.1 is in use, the rest
 * is quiet. */
static bool quiet(void *userdata, const PciDevice *d, char **why) {
        if (strcmp(d->name, "0000:06:00.1") != 0)
                return true;
        *why = strdup("bound to snd_hda_intel");
        return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *root = fuzz_make_tmpdir("pcreset-fuzz-reset-method"), *host, *sys, *state;
        GError *error = NULL;

        if (asprintf(&host, "%s/host", root) < 0 || asprintf(&sys, "%s/sys", host) < 0 ||
            asprintf(&state, "%s/state", root) < 0 || asprintf(&device_dir, "%s/%s", root, DEVICE_NAME) < 0 ||
            asprintf(&reset_method_path, "%s/reset_method", device_dir) < 0)
                abort();
        if (faketree_build_from_string(host_desc, host, &error) < 0) {
                fprintf(stderr, "faketree: %s\n", error->message);
                abort();
        }
        if (mkdir_p(device_dir, 0755) < 0 || mkdir_p(state, 0700) < 0 || topology_new(sys, &topology) < 0)
                abort();
        free(host);
        /* no inflight record: the executor reads the device's own file */
        exec_ctx = (ExecContext) { .sysfs_root = sys, .state_dir = state };
        return 0;
}

/* What one read() of the file gives, split as the kernel's list is. */
static char **expected_words(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size < 4095 ? size : 4095), **l = NULL;
        if (strv_split(text, " \t\n", &l) < 0)
                abort();
        free(text);
        return l;
}

static uint32_t method_scope(const char *m) {
        static const struct {
                const char *name;
                uint32_t scope;
        } table[] = {
                { "device_specific", PCRESET_SCOPE_DEV_SPECIFIC },
                { "acpi", PCRESET_SCOPE_ACPI },
                { "flr", PCRESET_SCOPE_FLR },
                { "af_flr", PCRESET_SCOPE_FLR },
                { "pm", PCRESET_SCOPE_PM },
                { "bus", PCRESET_SCOPE_SLOT | PCRESET_SCOPE_BUS },
                { "cxl_bus", PCRESET_SCOPE_CXL_BUS },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(m, table[i].name) == 0)
                        return table[i].scope;
        return 0;
}

static void check_plan(PciDevice *dev, uint32_t mask, char **methods, const PlannerEnv *env, uint32_t available) {
        ResetPlan p;
        char *reason = NULL;
        const char *d = dev->name;
        const char *e = env ? (env->allow_userspace_sbr ? "daemon settings" : "no link help") : "defaults";

        int r = planner_plan(topology, dev, mask, methods, env, &p, &reason);
        FUZZ_CHECK(r == 0 || r == -EOPNOTSUPP, "%s mask 0x%x: planner_plan returned %d", d, mask, r);
        FUZZ_CHECK((r == 0) == !!(mask & available),
                   "%s mask 0x%x (%s): plan says %d but ListDevices scopes are 0x%x (%s)", d, mask, e, r, available,
                   reason ?: "");
        if (r < 0) {
                FUZZ_CHECK(reason && *reason, "%s mask 0x%x: refused without a reason", d, mask);
                free(reason);
                return;
        }
        FUZZ_CHECK(!reason, "%s mask 0x%x: a plan with a reason", d, mask);
        FUZZ_CHECK(p.scope && !(p.scope & (p.scope - 1)) && (p.scope & mask),
                   "%s mask 0x%x: the planned bit 0x%x is not one bit inside the mask", d, mask, p.scope);
        FUZZ_CHECK(p.target == dev && p.n_affected >= 1 && p.n_affected <= PLAN_MAX_AFFECTED, "%s: bad affected set",
                   d);
        bool has_target = false;
        for (size_t i = 0; i < p.n_affected; i++)
                has_target |= p.affected[i] == dev;
        FUZZ_CHECK(has_target, "%s mask 0x%x: the target is not among the affected", d, mask);
        /* link: it excludes its domain's subtree - a link reset through a
         * bridge, or any reset of a bridge itself (everything below it is
         * disrupted, and counted as affected) */
        FUZZ_CHECK(!p.link || p.bridge || dev->is_bridge, "%s mask 0x%x: a link reset without a bridge", d, mask);
        if (dev->is_bridge)
                for (size_t i = 0; i < topology_count(topology); i++) {
                        PciDevice *x = topology_get(topology, i);
                        bool listed = false;
                        if (!pci_device_is_below(x, dev))
                                continue;
                        for (size_t k = 0; k < p.n_affected; k++)
                                listed |= p.affected[k] == x;
                        FUZZ_CHECK(listed, "%s mask 0x%x: %s below the bridge is not affected", d, mask, x->name);
                }

        switch (p.mechanism) {
        case MECHANISM_KERNEL_METHOD:
                FUZZ_CHECK(p.kernel_method && strv_contains(methods, p.kernel_method),
                           "%s mask 0x%x: method %s is not in the list", d, mask, p.kernel_method ?: "NULL");
                FUZZ_CHECK(method_scope(p.kernel_method) & p.scope, "%s: method %s does not do scope 0x%x", d,
                           p.kernel_method, p.scope);
                break;
        case MECHANISM_RESET_SUBORDINATE:
                FUZZ_CHECK(!env || env->use_reset_subordinate, "%s: reset_subordinate though turned off", d);
                FUZZ_CHECK(p.bridge && p.bridge->has_reset_subordinate, "%s: reset_subordinate on a bridge without it",
                           d);
                FUZZ_CHECK(!p.kernel_method && p.scope == PCRESET_SCOPE_BUS && p.link,
                           "%s: reset_subordinate with scope 0x%x", d, p.scope);
                break;
        case MECHANISM_USERSPACE_SBR:
                FUZZ_CHECK(env && env->allow_userspace_sbr, "%s: userspace bus reset though turned off", d);
                FUZZ_CHECK(!p.kernel_method && p.scope == PCRESET_SCOPE_BUS && p.link,
                           "%s: userspace bus reset with scope 0x%x", d, p.scope);
                break;
        default:
                FUZZ_CHECK(false, "%s: unknown mechanism %d", d, p.mechanism);
        }

        /* the bit on its own plans the same way */
        if (mask != p.scope) {
                ResetPlan alone;
                char *why = NULL;
                int r2 = planner_plan(topology, dev, p.scope, methods, env, &alone, &why);
                FUZZ_CHECK(r2 == 0 && alone.scope == p.scope && alone.mechanism == p.mechanism,
                           "%s: mask 0x%x plans 0x%x, but mask 0x%x alone gives %d (%s)", d, mask, p.scope, p.scope,
                           r2, why ?: "");
                free(why);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char **methods = NULL, **want = expected_words(data, size);

        fuzz_write_file(reset_method_path, data, size);
        int r = reset_method_read(device_dir, &methods);
        FUZZ_CHECK(r == 0 && methods, "executor_read_methods: %d", r);
        FUZZ_CHECK(strv_length(methods) == strv_length(want), "read %zu words, the file has %zu",
                   strv_length(methods), strv_length(want));
        for (size_t i = 0; methods[i]; i++)
                FUZZ_CHECK(strcmp(methods[i], want[i]) == 0, "word %zu: '%s', the file has '%s'", i, methods[i],
                           want[i]);

        /* One device and one set of settings per input, picked by the
         * input's length (every mask for all of them would take 50 ms an
         * input): the same words padded with blanks reach every pair. */
        const PlannerEnv daemon_env = { .use_reset_subordinate = true, .allow_userspace_sbr = true, .quiet = quiet };
        const PlannerEnv no_help_env = { .quiet = quiet };
        const PlannerEnv *envs[] = { &daemon_env, &no_help_env, NULL };
        size_t n = topology_count(topology), pick = size % (n * ELEMENTSOF(envs));
        PciDevice *dev = topology_get(topology, pick % n);
        const PlannerEnv *env = envs[pick / n];

        uint32_t available = planner_available_scopes(topology, dev, methods, env);
        FUZZ_CHECK(!(available & ~(uint32_t) PCRESET_SCOPE_KNOWN), "%s: scopes 0x%x", dev->name, available);
        for (uint32_t mask = 1; mask <= PCRESET_SCOPE_KNOWN; mask++)
                check_plan(dev, mask, methods, env, available);
        check_plan(dev, PCRESET_SCOPE_ANY, methods, env, available);
        strv_free(methods);
        strv_free(want);
        return 0;
}
