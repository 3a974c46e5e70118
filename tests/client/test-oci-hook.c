/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcresetctl oci-hook, driven with OCI state JSON on stdin and bundle
 * config.json files written here, against the real daemon on a fake host;
 * then invoked by real OCI runtimes (crun, runc) running a busybox container.
 *
 * The fake host: oci-fixture.h.
 */

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci-fixture.h"

/* A bundle: <dir>/<name>/config.json with the given linux.devices entries
 * (comma-separated JSON objects) and annotations (a JSON object's inside). */
static char *write_bundle(Fixture *f, const char *name, const char *devices, const char *annotations) {
        char *bundle = g_build_filename(harness_dir(f->h), name, NULL);
        g_autofree char *config = g_build_filename(bundle, "config.json", NULL);
        g_autofree char *text = g_strdup_printf(
                "{\n"
                "  \"ociVersion\": \"1.0.2\",\n"
                "  \"process\": { \"args\": [ \"/bin/sh\" ], \"cwd\": \"/\" },\n"
                "  \"root\": { \"path\": \"rootfs\" },\n"
                "  \"linux\": {\n"
                "    \"namespaces\": [ { \"type\": \"mount\" } ],\n"
                "    \"devices\": [ %s ]\n"
                "  },\n"
                "  \"annotations\": { %s }\n"
                "}\n", devices, annotations ?: "");
        g_assert_cmpint(g_mkdir_with_parents(bundle, 0755), ==, 0);
        g_assert_true(g_file_set_contents(config, text, -1, NULL));
        g_assert_cmpint(chmod(config, 0644), ==, 0);
        return bundle;
}

/* The state a runtime gives its hooks. */
static char *state_json(const char *id, const char *status, const char *bundle, const char *annotations) {
        return g_strdup_printf("{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"%s\",\"pid\":%d,"
                               "\"bundle\":\"%s\",\"annotations\":{%s}}",
                               id, status, (int) getpid(), bundle, annotations ?: "");
}

/* Runs pcresetctl [--json] oci-hook --sysfs-root ... --dev-root DEV
 * [extra...] (NULL-terminated, or NULL) with state on stdin, as user. */
static int hook(Fixture *f, const char *user, const char *state, const char *dev, gboolean json,
                const char *const *extra, char **out, char **err) {
        static unsigned n;
        g_autofree char *input = g_strdup_printf("%s/state-%u.json", harness_dir(f->h), n++);
        g_autofree char *sys = fake_sys(f);
        g_autofree char *default_dev = host_dev(f);
        g_assert_true(g_file_set_contents(input, state, -1, NULL));
        g_assert_cmpint(chmod(input, 0644), ==, 0);
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        for (const char *a = "sh\0-c\0input=$1; shift; exec \"$@\" < \"$input\"\0sh\0"; *a; a += strlen(a) + 1)
                g_ptr_array_add(argv, (char *) a);
        g_ptr_array_add(argv, input);
        g_ptr_array_add(argv, (char *) g_getenv("PCRESETCTL_BIN"));
        if (json)
                g_ptr_array_add(argv, (char *) "--json");
        g_ptr_array_add(argv, (char *) "oci-hook");
        g_ptr_array_add(argv, (char *) "--sysfs-root");
        g_ptr_array_add(argv, sys);
        g_ptr_array_add(argv, (char *) "--dev-root");
        g_ptr_array_add(argv, (char *) (dev ?: default_dev));
        for (size_t i = 0; extra && extra[i]; i++)
                g_ptr_array_add(argv, (char *) extra[i]);
        g_ptr_array_add(argv, NULL);
        g_test_message("%s: %s", input, state);
        return harness_run_logged(f->h, user, out, err, (const char *const *) argv->pdata);
}

/* ---- cases ------------------------------------------------------------- */

/* prestart: every function of the container's group is reset, the one the
 * host's driver holds included, which only the passed fd allows. */
static void test_prestart_group(Fixture *f, gconstpointer data) {
        start_daemon(f);
        /* without a proof the audio function is the host's */
        g_autofree char *e0 = NULL;
        g_assert_cmpint(ctl(f, NULL, NULL, &e0, "--no-ask-password", "reset", "0000:02:00.1", NULL), ==, 5);
        assert_contains(e0, "0000:02:00.1 (snd_hda_intel)");
        assert_completed(f, "0000:02:00.1", 0);

        g_autofree char *bundle = write_bundle(f, "ctr-a", NODE_VFIO ", " NODE_12, NULL);
        g_autofree char *state = state_json("ctr-a", "created", bundle, NULL);
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, &out, &err), ==, 0);
        assert_contains(out, "oci-hook ctr-a: reset 0000:02:00.0: performed flr (0x02), affected: 0000:02:00.0 "
                             "(kernel-reset-method, reset_method flr)\n");
        assert_contains(out, "oci-hook ctr-a: reset 0000:02:00.1: performed flr (0x02), affected: 0000:02:00.1 "
                             "(kernel-reset-method, reset_method flr)\n");
        g_assert_cmpstr(err, ==, "");
        assert_attr(f, "0000:02:00.0", "reset", "1");
        assert_attr(f, "0000:02:00.1", "reset", "1");
        assert_attr(f, "0000:02:00.1", "reset_method", "flr");
        assert_completed(f, "0000:02:00.0", 1);
        assert_completed(f, "0000:02:00.1", 1);
        /* the host's NIC and the other group were left alone */
        assert_attr(f, "0000:01:00.0", "reset", "");
        assert_attr(f, "0000:03:00.0", "reset", "");
        assert_log_count(f, "PCRESET_EVENT=completed", "PCRESET_DEVICE=0000:02:00.1 PCRESET_MASK=0x00000027", 1);
}

/* poststop, the annotation picks one function, --json reports it all. */
static void test_poststop_json(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-b", NODE_12, "\"" ANN_SCOPE "\": \"flr\"");
        g_autofree char *state = state_json("ctr-b", "stopped", bundle, "\"" ANN_DEVICES "\": \"02:00.1\"");
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(hook(f, NULL, state, NULL, TRUE, NULL, &out, &err), ==, 0);
        g_autoptr(json_object) report = parse_json(out);
        g_assert_cmpstr(jstr(report, "container"), ==, "ctr-b");
        g_assert_cmpstr(jstr(report, "status"), ==, "stopped");
        g_assert_cmpstr(jstr(report, "bundle"), ==, bundle);
        g_assert_cmpint(jint(report, "scope"), ==, 2);
        g_assert_cmpstr(jstr(report, "scope_name"), ==, "flr");
        g_assert_false(json_object_get_boolean(jget(report, "required")));
        g_assert_cmpint(jint(report, "exit_code"), ==, 0);

        json_object *nodes = jget(report, "nodes");
        g_assert_cmpuint(json_object_array_length(nodes), ==, 1);
        json_object *node = json_object_array_get_idx(nodes, 0);
        g_assert_cmpstr(jstr(node, "path"), ==, "/dev/vfio/12");
        g_assert_cmpint(jint(node, "group"), ==, 12);
        g_assert_true(json_object_get_boolean(jget(node, "proof")));
        g_assert_null(jget(node, "error"));
        g_assert_cmpstr(json_object_to_json_string_ext(jget(node, "devices"), JSON_C_TO_STRING_PLAIN), ==,
                        "[\"0000:02:00.0\",\"0000:02:00.1\"]");

        json_object *devices = jget(report, "devices");
        g_assert_cmpuint(json_object_array_length(devices), ==, 1);
        json_object *d = json_object_array_get_idx(devices, 0);
        g_assert_cmpstr(jstr(d, "address"), ==, "0000:02:00.1");
        g_assert_cmpstr(jstr(d, "result"), ==, "reset");
        g_assert_cmpint(jint(d, "performed"), ==, 2);
        g_assert_cmpstr(jstr(d, "performed_name"), ==, "flr");
        g_assert_cmpstr(jstr(d, "mechanism"), ==, "kernel-reset-method");
        g_assert_cmpstr(json_object_to_json_string_ext(jget(d, "affected"), JSON_C_TO_STRING_PLAIN), ==,
                        "[\"0000:02:00.1\"]");
        g_assert_cmpint(jint(d, "duration_usec"), >=, 0);

        assert_completed(f, "0000:02:00.1", 1);
        assert_completed(f, "0000:02:00.0", 0);
        assert_attr(f, "0000:02:00.0", "reset", "");
}

/* A device the annotation names that the container was not given: refused
 * by the hook without asking; with --allow-unproven the daemon refuses it. */
static void test_not_in_container(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-c", NODE_12, NULL);
        static const char refusal[] = "pcresetctl oci-hook: container ctr-c: 0000:01:00.0 not reset: not given to the "
                                      "container: none of its VFIO nodes covers it";
        {
                g_autofree char *state = state_json("ctr-c", "created", bundle, "\"" ANN_DEVICES "\": \"0000:02:00.0, 01:00.0\"");
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, &out, &err), ==, 0);
                assert_contains(out, "oci-hook ctr-c: reset 0000:02:00.0: performed flr");
                assert_contains(err, refusal);
                assert_contains(err, "1 of 2 devices reset; the reset is not required");
        }
        {
                g_autofree char *state = state_json("ctr-c", "created", bundle, "\"" ANN_DEVICES "\": \"0000:02:00.0,0000:01:00.0\", "
                                                    "\"" ANN_REQUIRED "\": \"true\"");
                g_autofree char *err = NULL, *out = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, TRUE, NULL, &out, &err), ==, 5);
                assert_contains(err, refusal);
                g_autoptr(json_object) report = parse_json(out);
                g_assert_cmpint(jint(report, "exit_code"), ==, 5);
                json_object *d = json_object_array_get_idx(jget(report, "devices"), 1);
                g_assert_cmpstr(jstr(d, "result"), ==, "failed");
                g_assert_cmpstr(jstr(d, "error"), ==, "org.freedesktop.pcreset1.Error.DeviceBusy");
        }
        /* the daemon never heard of 0000:01:00.0 */
        {
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_DEVICE=0000:01:00.0", NULL), ==, 0);
        }
        /* the administrator lets the daemon decide: it says busy */
        {
                g_autofree char *state = state_json("ctr-c", "created", bundle, "\"" ANN_DEVICES "\": \"01:00.0\", "
                                                    "\"" ANN_REQUIRED "\": \"yes\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) { "--allow-unproven", NULL }, NULL, &err), ==, 5);
                assert_contains(err, "pcresetctl oci-hook: container ctr-c: 0000:01:00.0 not reset: Refusing to reset "
                                     "0000:01:00.0 with flr: 0000:01:00.0 (e1000e): bound to e1000e");
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", "PCRESET_DEVICE=0000:01:00.0"), ==, 1);
        }
        assert_attr(f, "0000:01:00.0", "reset", "");
        assert_completed(f, "0000:02:00.0", 2);
}

/* The scope annotation: func by default, a link reset only when allowed. */
static void test_scope(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-d", NODE_20 ", " NODE_12, NULL);
        /* 0000:03:00.0 can only be reset with its slot */
        {
                g_autofree char *state = state_json("ctr-d", "created", bundle, "\"" ANN_DEVICES "\": \"03:00.0\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, NULL, &err), ==, 0);
                assert_contains(err, "container ctr-d: 0000:03:00.0 not reset: no reset of 0000:03:00.0 inside mask "
                                     "device_specific,flr,pm,acpi: the kernel offers only bus");
        }
        {
                g_autofree char *state = state_json("ctr-d", "created", bundle, "\"" ANN_DEVICES "\": \"03:00.0\", "
                                                    "\"" ANN_REQUIRED "\": \"TRUE\"");
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, NULL, NULL), ==, 4);
        }
        assert_attr(f, "0000:03:00.0", "reset", "");
        /* func,link: a function reset where one exists, else the slot */
        {
                g_autofree char *state = state_json("ctr-d", "stopped", bundle, "\"" ANN_SCOPE "\": \"func,link\", "
                                                    "\"" ANN_REQUIRED "\": \"true\"");
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, &out, &err), ==, 0);
                assert_contains(out, "oci-hook ctr-d: reset 0000:03:00.0: performed slot (0x08), affected: 0000:03:00.0");
                assert_contains(out, "oci-hook ctr-d: reset 0000:02:00.0: performed flr (0x02)");
                assert_contains(out, "oci-hook ctr-d: reset 0000:02:00.1: performed flr (0x02)");
                g_assert_cmpstr(err, ==, "");
        }
        assert_attr(f, "0000:03:00.0", "reset", "1");
        assert_attr(f, "0000:03:00.0", "reset_method", "bus");
        /* a scope that is no scope: nothing is asked */
        {
                g_autofree char *state = state_json("ctr-d", "created", bundle, "\"" ANN_SCOPE "\": \"bogus\", "
                                                    "\"" ANN_REQUIRED "\": \"true\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, NULL, &err), ==, 2);
                assert_contains(err, "invalid org.freedesktop.pcreset.scope 'bogus'");
        }
        assert_completed(f, "0000:03:00.0", 1);
        assert_completed(f, "0000:02:00.1", 1);
}

/* Proofs that are none. */
static void test_bad_proof(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-e", NODE_12, NULL);
        g_autofree char *required = state_json("ctr-e", "created", bundle, "\"" ANN_REQUIRED "\": \"true\"");
        /* the fake host's own /dev/vfio/12 is a character device no driver
         * serves: it cannot be opened, so it proves nothing */
        {
                g_autofree char *fakedev = g_build_filename(harness_fake_root(f->h), "dev", NULL);
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, required, fakedev, FALSE, NULL, NULL, &err), ==, 1);
                assert_contains(err, "0000:02:00.0 not reset: no proof of ownership: cannot open ");
                assert_contains(err, "/dev/vfio/12: No such device or address");
        }
        /* a regular file where the node should be */
        {
                g_autofree char *dev = g_build_filename(harness_dir(f->h), "plaindev", NULL);
                g_autofree char *vdir = g_build_filename(dev, "vfio", NULL);
                g_autofree char *node = g_build_filename(vdir, "12", NULL);
                g_autofree char *err = NULL;
                g_assert_cmpint(g_mkdir_with_parents(vdir, 0755), ==, 0);
                g_assert_true(g_file_set_contents(node, "", 0, NULL));
                g_assert_cmpint(hook(f, NULL, required, dev, FALSE, NULL, NULL, &err), ==, 1);
                assert_contains(err, "/vfio/12 is not a character device");
        }
        /* a node that is not the one the container was given */
        {
                g_autofree char *dev = g_build_filename(harness_dir(f->h), "otherdev", NULL);
                g_autofree char *n12 = g_build_filename(dev, "vfio", "12", NULL);
                symlink_or_die("/dev/zero", n12);
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, required, dev, FALSE, NULL, NULL, &err), ==, 1);
                assert_contains(err, "is device 1:5, but the container was given 1:3");
                /* the config without device numbers: the hook goes by the name
                 * and passes the fd; the daemon finds it is group 20's node,
                 * which proves nothing about the host-bound 0000:02:00.1 */
                g_autofree char *bundle2 = write_bundle(f, "ctr-e2", "{\"path\":\"/dev/vfio/12\",\"type\":\"c\"}", NULL);
                g_autofree char *state2 = state_json("ctr-e2", "created", bundle2, "\"" ANN_REQUIRED "\": \"1\"");
                g_autofree char *out = NULL, *err2 = NULL;
                g_assert_cmpint(hook(f, NULL, state2, dev, FALSE, NULL, &out, &err2), ==, 5);
                assert_contains(out, "reset 0000:02:00.0: performed flr");   /* idle anyway */
                assert_contains(err2, "0000:02:00.1 not reset: Refusing to reset 0000:02:00.1 with flr: 0000:02:00.1 "
                                      "(snd_hda_intel)");
        }
        assert_completed(f, "0000:02:00.1", 0);
        assert_completed(f, "0000:02:00.0", 1);
}

/* A VFIO device cdev proves its one function. */
static void test_cdev(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-f", NODE_VFIO3, NULL);
        g_autofree char *state = state_json("ctr-f", "created", bundle, "\"" ANN_REQUIRED "\": \"true\"");
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(hook(f, NULL, state, NULL, TRUE, NULL, &out, &err), ==, 0);
        g_autoptr(json_object) report = parse_json(out);
        json_object *node = json_object_array_get_idx(jget(report, "nodes"), 0);
        g_assert_cmpstr(jstr(node, "cdev"), ==, "vfio3");
        g_assert_null(jget(node, "group"));
        g_assert_true(json_object_get_boolean(jget(node, "proof")));
        g_assert_cmpuint(json_object_array_length(jget(report, "devices")), ==, 1);
        json_object *d = json_object_array_get_idx(jget(report, "devices"), 0);
        g_assert_cmpstr(jstr(d, "address"), ==, "0000:02:00.1");
        g_assert_cmpstr(jstr(d, "result"), ==, "reset");
        assert_completed(f, "0000:02:00.1", 1);
        assert_completed(f, "0000:02:00.0", 0);
}

static const char rules_alice[] =
        "polkit.addRule(function(action, subject) {\n"
        "  if (action.id == 'org.freedesktop.pcreset1.reset' && subject.user == 'pcr-alice')\n"
        "    return polkit.Result.YES;\n"
        "});\n";

/* A rootless runtime: the hook runs as the user, and polkit decides. */
static void test_rootless(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-g", NODE_12, NULL);
        g_autofree char *state = state_json("ctr-g", "stopped", bundle, "\"" ANN_DEVICES "\": \"02:00.0\", "
                                            "\"" ANN_REQUIRED "\": \"true\"");
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, HARNESS_USER_ALICE, state, NULL, FALSE, NULL, NULL, &err), ==, 6);
                assert_contains(err, "0000:02:00.0 not reset: Interactive authentication is required to reset 0000:02:00.0");
        }
        harness_set_rules(f->h, rules_alice);
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(hook(f, HARNESS_USER_ALICE, state, NULL, FALSE, NULL, &out, NULL), ==, 0);
                assert_contains(out, "oci-hook ctr-g: reset 0000:02:00.0: performed flr");
        }
        /* bob: polkit says nothing for him, and the proof is no authorization */
        {
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, HARNESS_USER_BOB, state, NULL, FALSE, NULL, NULL, &err), ==, 6);
        }
        /* a user's proof of group 12 does not make its host-bound audio
         * function hers: busy, not reset */
        {
                g_autofree char *audio = state_json("ctr-g", "stopped", bundle, "\"" ANN_DEVICES "\": \"02:00.1\", "
                                                    "\"" ANN_REQUIRED "\": \"true\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, HARNESS_USER_ALICE, audio, NULL, FALSE, NULL, NULL, &err), ==, 5);
                assert_contains(err, "bound to snd_hda_intel");
        }
        assert_log_count(f, "PCRESET_EVENT=completed", "CALLER_UID=4101", 1);
        assert_completed(f, "0000:02:00.0", 1);
        assert_completed(f, "0000:02:00.1", 0);
}

/* No VFIO device, no annotation: nothing to do, and no bus needed at all. */
static void test_nothing_to_do(Fixture *f, gconstpointer data) {
        /* no daemon */
        g_autofree char *bundle = write_bundle(f, "ctr-h", NODE_VFIO, NULL);
        g_autofree char *state = state_json("ctr-h", "created", bundle, NULL);
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, NULL, &out, &err), ==, 0);
        g_assert_cmpstr(out, ==, "oci-hook ctr-h: nothing to reset: no VFIO devices in linux.devices and no "
                                 "org.freedesktop.pcreset.devices annotation\n");
        g_assert_cmpstr(err, ==, "");
        /* a device to reset but no daemon: reported, and fatal only if required */
        g_autofree char *bundle2 = write_bundle(f, "ctr-h2", NODE_12, NULL);
        g_autofree char *state2 = state_json("ctr-h2", "stopped", bundle2, NULL);
        g_autofree char *state3 = state_json("ctr-h2", "stopped", bundle2, "\"" ANN_REQUIRED "\": \"true\"");
        g_autofree char *err2 = NULL;
        g_assert_cmpint(hook(f, NULL, state2, NULL, FALSE, NULL, NULL, &err2), ==, 0);
        assert_contains(err2, "0000:02:00.0 not reset: ");
        g_assert_cmpint(hook(f, NULL, state3, NULL, FALSE, NULL, NULL, NULL), ==, 10);
        /* while the container runs, never */
        g_autofree char *running = state_json("ctr-h2", "running", bundle2, "\"" ANN_REQUIRED "\": \"true\"");
        g_autofree char *err3 = NULL;
        g_assert_cmpint(hook(f, NULL, running, NULL, FALSE, NULL, NULL, &err3), ==, 2);
        assert_contains(err3, "the container is running: the hook resets devices only before a container runs");
}

/* The hook's own arguments, as CDI specs pass them (pcresetctl cdi): --node
 * limits it to what one node covers, --scope and --required win over the
 * annotations, which the container spec's author wrote. */
static void test_hook_arguments(Fixture *f, gconstpointer data) {
        start_daemon(f);
        g_autofree char *bundle = write_bundle(f, "ctr-n", NODE_VFIO ", " NODE_12 ", " NODE_20, NULL);
        /* group 12 only: the NVMe of group 20 is not even tried */
        {
                g_autofree char *state = state_json("ctr-n", "created", bundle, NULL);
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) { "--node=/dev/vfio/12", NULL },
                                     &out, &err), ==, 0);
                assert_contains(out, "oci-hook ctr-n: reset 0000:02:00.0: performed flr");
                assert_contains(out, "oci-hook ctr-n: reset 0000:02:00.1: performed flr");
                assert_not_contains(out, "0000:03:00.0");
                g_assert_cmpstr(err, ==, "");
        }
        assert_completed(f, "0000:02:00.1", 1);
        /* group 20 with the link scope, though the annotations say flr and
         * name another device */
        {
                g_autofree char *state = state_json("ctr-n", "stopped", bundle, "\"" ANN_SCOPE "\": \"flr\", \""
                                                    ANN_DEVICES "\": \"02:00.0\", \"" ANN_REQUIRED "\": \"false\"");
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, TRUE, (const char *[]) { "--node=/dev/vfio/20",
                                     "--scope=func,link", "--required", NULL }, &out, &err), ==, 0);
                g_autoptr(json_object) report = parse_json(out);
                g_assert_cmpint(jint(report, "scope"), ==, 0x27 | 0x58);
                g_assert_true(json_object_get_boolean(jget(report, "required")));
                json_object *devices = jget(report, "devices");
                g_assert_cmpuint(json_object_array_length(devices), ==, 1);
                json_object *d = json_object_array_get_idx(devices, 0);
                g_assert_cmpstr(jstr(d, "address"), ==, "0000:03:00.0");
                g_assert_cmpstr(jstr(d, "performed_name"), ==, "slot");
        }
        assert_attr(f, "0000:03:00.0", "reset_method", "bus");
        assert_completed(f, "0000:03:00.0", 1);
        assert_completed(f, "0000:02:00.0", 1);
        /* --required wins over required=false: the NVMe has no function reset */
        {
                g_autofree char *state = state_json("ctr-n", "created", bundle, "\"" ANN_REQUIRED "\": \"false\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) { "--node=/dev/vfio/20",
                                     "--required", NULL }, NULL, &err), ==, 4);
                assert_contains(err, "0000:03:00.0 not reset: no reset of 0000:03:00.0 inside mask");
        }
        /* a node the container was not given: nothing is reset, and it fails */
        {
                g_autofree char *state = state_json("ctr-n", "created", bundle, NULL);
                g_autofree char *out = NULL, *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) {
                                     "--node=/dev/vfio/devices/vfio3", "--required", NULL }, &out, &err), ==, 3);
                assert_contains(err, "the container was not given the VFIO node /dev/vfio/devices/vfio3 (--node)");
                g_assert_cmpstr(out, ==, "");
        }
        /* ... also when the reset is not required: the container would run
         * without the device its spec's hook was for (found by a red-team
         * review) */
        {
                g_autofree char *state = state_json("ctr-n", "created", bundle, NULL);
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) {
                                     "--node=/dev/vfio/devices/vfio3", NULL }, NULL, &err), ==, 3);
                assert_contains(err, "the container was not given the VFIO node /dev/vfio/devices/vfio3 (--node)");
        }
        /* --node names a VFIO node or nothing */
        for (const char *bad = "/dev/null\0/dev/vfio/vfio\0/dev/vfio/noiommu-3\0""12\0"; *bad; bad += strlen(bad) + 1) {
                g_autofree char *state = state_json("ctr-n", "created", bundle, NULL);
                g_autofree char *node = g_strdup_printf("--node=%s", bad);
                g_autofree char *err = NULL;
                g_assert_cmpint(hook(f, NULL, state, NULL, FALSE, (const char *[]) { node, NULL }, NULL, &err), ==, 2);
                assert_contains(err, "invalid --node");
        }
        assert_completed(f, "0000:02:00.0", 1);
        assert_completed(f, "0000:02:00.1", 1);
        assert_completed(f, "0000:03:00.0", 1);
}

/* ---- real runtimes ------------------------------------------------------- */

typedef enum { RUNTIME_CRUN, RUNTIME_RUNC } Runtime;

/* A busybox bundle whose process checks it got its VFIO node and leaves a
 * mark in <bundle>/out; the hook in prestart and poststop. */
static char *write_runtime_bundle(Fixture *f, const char *name, const char *annotations) {
        const char *busybox = g_getenv("BUSYBOX_BIN");
        if (!busybox || !*busybox)
                g_error("busybox-static is not installed (scripts/install-deps installs it)");
        char *bundle = g_build_filename(harness_dir(f->h), name, NULL);
        g_autofree char *bin = g_build_filename(bundle, "rootfs", "bin", NULL);
        g_autofree char *out = g_build_filename(bundle, "out", NULL);
        g_assert_cmpint(g_mkdir_with_parents(bin, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(out, 0755), ==, 0);
        for (const char *d = "proc\0dev\0out\0tmp\0"; *d; d += strlen(d) + 1) {
                g_autofree char *p = g_build_filename(bundle, "rootfs", d, NULL);
                g_assert_cmpint(g_mkdir_with_parents(p, 0755), ==, 0);
        }
        g_autofree char *copy = g_build_filename(bin, "busybox", NULL);
        g_autofree char *content = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(busybox, &content, &len, NULL));
        g_assert_true(g_file_set_contents(copy, content, (gssize) len, NULL));
        g_assert_cmpint(chmod(copy, 0755), ==, 0);

        g_autofree char *sys = fake_sys(f);
        g_autofree char *dev = host_dev(f);
        g_autofree char *hook_args = g_strdup_printf(
                "\"path\": \"%s\", \"args\": [ \"pcresetctl\", \"--json\", \"oci-hook\", \"--sysfs-root\", \"%s\", "
                "\"--dev-root\", \"%s\" ], \"env\": [ \"DBUS_SYSTEM_BUS_ADDRESS=%s\" ]",
                g_getenv("PCRESETCTL_BIN"), sys, dev, harness_bus_address(f->h));
        g_autofree char *hook_out = g_build_filename(harness_dir(f->h), "hook-stdout.log", NULL);
        g_autofree char *hook_err = g_build_filename(harness_dir(f->h), "hook-stderr.log", NULL);
        g_autofree char *config = g_build_filename(bundle, "config.json", NULL);
        g_autofree char *text = g_strdup_printf(
                "{\n"
                "  \"ociVersion\": \"1.0.2\",\n"
                "  \"process\": {\n"
                "    \"terminal\": false, \"user\": { \"uid\": 0, \"gid\": 0 }, \"cwd\": \"/\",\n"
                "    \"args\": [ \"/bin/busybox\", \"sh\", \"-c\",\n"
                "                \"test -c /dev/vfio/12 && echo ran > /out/ran\" ],\n"
                "    \"env\": [ \"PATH=/bin\" ], \"noNewPrivileges\": true\n"
                "  },\n"
                "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
                "  \"hostname\": \"pcreset-test\",\n"
                "  \"mounts\": [\n"
                "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
                "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
                "      \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=1m\" ] },\n"
                "    { \"destination\": \"/out\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [ \"rbind\", \"rw\" ] }\n"
                "  ],\n"
                "  \"hooks\": {\n"
                "    \"prestart\": [ { %s } ],\n"
                "    \"poststop\": [ { %s } ]\n"
                "  },\n"
                "  \"linux\": {\n"
                "    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"ipc\" }, { \"type\": \"uts\" },\n"
                "                      { \"type\": \"mount\" }, { \"type\": \"network\" } ],\n"
                "    \"devices\": [ %s ],\n"
                "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" },\n"
                "      { \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rw\" } ] }\n"
                "  },\n"
                "  \"annotations\": { \"run.oci.hooks.stdout\": \"%s\", \"run.oci.hooks.stderr\": \"%s\"%s%s }\n"
                "}\n",
                out, hook_args, hook_args, NODE_12, hook_out, hook_err, annotations ? ", " : "", annotations ?: "");
        g_assert_true(g_file_set_contents(config, text, -1, NULL));
        return bundle;
}

static int run_container(Fixture *f, Runtime rt, const char *bundle, const char *id, char **err) {
        g_autofree char *root = g_build_filename(harness_dir(f->h), rt == RUNTIME_CRUN ? "crun-state" : "runc-state", NULL);
        const char *bin = g_getenv(rt == RUNTIME_CRUN ? "CRUN_BIN" : "RUNC_BIN");
        if (!bin || !*bin)
                g_error("%s is not installed (scripts/install-deps installs it)", rt == RUNTIME_CRUN ? "crun" : "runc");
        if (rt == RUNTIME_CRUN) {
                /* crun refuses cgroup v1 + an empty v2 hierarchy ("hybrid
                 * mode"), and the sealed /sys is read-only: a private empty
                 * /sys/fs/cgroup, and no cgroup manager */
                const char *argv[] = { "unshare", "-m", "sh", "-c",
                                       "mount -t tmpfs tmpfs /sys/fs/cgroup && exec \"$@\"", "sh",
                                       bin, "--cgroup-manager=disabled", "--root", root, "run", "--bundle", bundle,
                                       id, NULL };
                return harness_run_logged(f->h, NULL, NULL, err, argv);
        }
        /* --rootless=true: cgroup errors (the read-only /sys/fs/cgroup) are
         * ignored, as for a rootless container */
        const char *argv[] = { bin, "--rootless=true", "--root", root, "run", "--bundle", bundle, id, NULL };
        return harness_run_logged(f->h, NULL, NULL, err, argv);
}

static void test_runtime(Fixture *f, Runtime rt) {
        start_daemon(f);
        /* the container runs between the two hooks, which reset both functions */
        {
                g_autofree char *bundle = write_runtime_bundle(f, "rt-ok", "\"" ANN_SCOPE "\": \"func\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(run_container(f, rt, bundle, "pcr-ok", &err), ==, 0);
                g_autofree char *ran = g_build_filename(bundle, "out", "ran", NULL);
                g_autofree char *mark = NULL;
                g_assert_true(g_file_get_contents(ran, &mark, NULL, NULL));
                g_assert_cmpstr(mark, ==, "ran\n");
                assert_completed(f, "0000:02:00.0", 2);
                assert_completed(f, "0000:02:00.1", 2);
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_EVENT=refused", NULL), ==, 0);
                if (rt == RUNTIME_CRUN) {
                        /* crun hands hook output to run.oci.hooks.stdout: both reports */
                        g_autofree char *p = g_build_filename(harness_dir(f->h), "hook-stdout.log", NULL);
                        g_autofree char *reports = NULL;
                        g_assert_true(g_file_get_contents(p, &reports, NULL, NULL));
                        g_test_message("hook reports:\n%s", reports);
                        g_assert_cmpuint(count_lines_with(reports, "\"container\":\"pcr-ok\"", NULL), ==, 2);
                        g_assert_cmpuint(count_lines_with(reports, "\"status\":\"stopped\"", NULL), ==, 1);
                        g_assert_cmpuint(count_lines_with(reports, "\"result\":\"reset\"", NULL), ==, 4);
                }
        }
        /* a required reset that fails stops the container from starting */
        {
                g_autofree char *bundle = write_runtime_bundle(f, "rt-fail", "\"" ANN_DEVICES "\": \"0000:02:00.0,0000:01:00.0\", "
                                                               "\"" ANN_REQUIRED "\": \"true\"");
                g_autofree char *err = NULL;
                g_assert_cmpint(run_container(f, rt, bundle, "pcr-fail", &err), !=, 0);
                g_autofree char *ran = g_build_filename(bundle, "out", "ran", NULL);
                g_assert_false(g_file_test(ran, G_FILE_TEST_EXISTS));
                g_autofree char *log = daemon_log(f);
                g_assert_cmpuint(count_lines_with(log, "PCRESET_DEVICE=0000:01:00.0", NULL), ==, 0);
                assert_attr(f, "0000:01:00.0", "reset", "");
        }
}

static void test_runtime_crun(Fixture *f, gconstpointer data) {
        test_runtime(f, RUNTIME_CRUN);
}

static void test_runtime_runc(Fixture *f, gconstpointer data) {
        test_runtime(f, RUNTIME_RUNC);
}

int main(int argc, char *argv[]) {
        harness_enter_namespace();
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/oci-hook/prestart-group", test_prestart_group);
        ADD("/oci-hook/poststop-json", test_poststop_json);
        ADD("/oci-hook/not-in-container", test_not_in_container);
        ADD("/oci-hook/scope", test_scope);
        ADD("/oci-hook/bad-proof", test_bad_proof);
        ADD("/oci-hook/cdev", test_cdev);
        ADD("/oci-hook/rootless", test_rootless);
        ADD("/oci-hook/nothing-to-do", test_nothing_to_do);
        ADD("/oci-hook/hook-arguments", test_hook_arguments);
        ADD("/oci-hook/runtime-crun", test_runtime_crun);
        ADD("/oci-hook/runtime-runc", test_runtime_runc);
        return g_test_run();
}
