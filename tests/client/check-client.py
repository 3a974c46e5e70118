#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What of pcresetctl needs no daemon, as TAP: the man pages (they build,
render without warnings and say what the code does), the bash completion
without a daemon, the hooks.d file, and the OCI hook's input checks.

  check-client.py --srcdir DIR --pcresetctl BIN --pcresetd BIN --scdoc BIN
                  --hook-json FILE
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))


def run(argv, stdin=None, env=None):
    e = dict(os.environ)
    # no bus: nothing here may reach a daemon
    e["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/pcreset-test-bus"
    e.update(env or {})
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- man pages ---------------------------------------------------------------

def check_man(a):
    pages = {
        "pcresetctl.1": None,
        "pcresetd.8": None,
        "org.freedesktop.pcreset1.5": None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            src = os.path.join(a.srcdir, "man", page + ".scd")
            text = read(src)
            pages[page] = text
            with open(src, "rb") as f:
                p = subprocess.run([a.scdoc], stdin=f, capture_output=True)
            check(f"man: scdoc builds {page}", p.returncode == 0 and p.stdout, p.stderr.decode())
            out = os.path.join(tmp, page)
            with open(out, "wb") as f:
                f.write(p.stdout)
            # every line breaks, every table fits, no unknown request
            r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", out], capture_output=True, text=True)
            check(f"man: {page} renders without warnings", r.returncode == 0 and r.stderr == "", r.stderr)
            check(f"man: {page} has NAME and SEE ALSO",
                  "\n# NAME\n" in text and "\n# SEE ALSO\n" in text)

    ctl = pages["pcresetctl.1"]
    rc, help_text, _ = run([a.pcresetctl, "--help"])
    check("pcresetctl --help exits 0", rc == 0)
    options = sorted(set(re.findall(r"(--[a-z][a-z-]+)", help_text)))
    check("pcresetctl --help lists options", len(options) >= 9, " ".join(options))
    for opt in options:
        check(f"man pcresetctl(1) documents {opt}", re.search(r"\*" + re.escape(opt) + r"\*", ctl))
    commands = re.search(r"Commands:\n(.*?)\n\n", help_text, re.S).group(1)
    verbs = re.findall(r"^  ([a-z-]+)", commands, re.M)
    check("pcresetctl --help lists the verbs", set(verbs) >= {"list", "info", "reset", "claim", "release",
                                                             "monitor", "oci-hook", "help"}, verbs)
    for verb in verbs:
        check(f"man pcresetctl(1) documents the verb {verb}", re.search(r"^\*" + re.escape(verb) + r"\*", ctl, re.M))

    # exit codes: the contract header, the help text and the man page agree
    header = read(os.path.join(a.srcdir, "dbus", "pcreset1.h"))
    codes = {int(v): n for n, v in re.findall(r"PCRESETCTL_EXIT_([A-Z_]+)\s*=\s*(\d+)", header)}
    check("pcreset1.h has exit codes 0..10", sorted(codes) == list(range(11)), codes)
    exit_section = ctl.split("# EXIT STATUS", 1)[1].split("\n# ", 1)[0]
    help_exit = help_text.split("Exit status:", 1)[1]
    for code in codes:
        check(f"man pcresetctl(1) documents exit status {code}", f"\n*{code}*\n" in exit_section)
        check(f"pcresetctl --help documents exit status {code}", re.search(rf"^ +{code}  \S", help_exit, re.M))
    errors = re.findall(r'"(org\.freedesktop\.pcreset1\.Error\.[A-Za-z]+)"', header)
    for err in errors:
        check(f"man pcresetctl(1) maps {err} to an exit status", err in exit_section)
    for ann in ["org.freedesktop.pcreset.devices", "org.freedesktop.pcreset.scope",
                "org.freedesktop.pcreset.required"]:
        check(f"man pcresetctl(1) documents the annotation {ann}", f"*{ann}*" in ctl)
    check("man pcresetctl(1) tells where the hook is installed",
          "/usr/share/containers/oci/hooks.d/pcresetd.json" in ctl)

    # pcresetd(8): every option of --help, every setting of config.c with
    # its range, and the defaults of the shipped pcresetd.conf
    d8 = pages["pcresetd.8"]
    rc, dhelp, _ = run([a.pcresetd, "--help"])
    check("pcresetd --help exits 0", rc == 0)
    for opt in sorted(set(re.findall(r"(--[a-z][a-z-]+)", dhelp))):
        check(f"man pcresetd(8) documents {opt}", f"*{opt}*" in d8)
    config_c = read(os.path.join(a.srcdir, "daemon", "config.c"))
    keys = re.findall(r'streq\(section, "(\w+)"\) && streq\(name, "(\w+)"\)', config_c)
    check("config.c has settings", len(keys) >= 9, keys)
    for section, key in keys:
        m = re.search(r"^## \[" + section + r"\]\n(.*?)(?=^## |^# )", d8, re.M | re.S)
        check(f"man pcresetd(8) documents [{section}] {key}=", m and f"*{key}=*" in m.group(1))
        rng = re.search(r'"' + key + r'=%s is not a number from (\d+) to (\d+)"', config_c)
        if rng:
            para = re.sub(r"\s+", " ", d8.split(f"*{key}=*", 1)[1].split("\n\n", 1)[0])
            check(f"man pcresetd(8) gives the range of {key}", f"{rng.group(1)} to {rng.group(2)}" in para, para)
    conf = read(os.path.join(a.srcdir, "systemd", "pcresetd.conf"))
    for key, value in re.findall(r"^#(\w+)=(.*)$", conf, re.M):
        para = d8.split(f"*{key}=*", 1)[1].split("\n\n", 1)[0]
        want = value.strip()
        check(f"man pcresetd(8) gives the default of {key} ({want})",
              re.search(r"[Dd]efault:?\s+\**" + re.escape(want.split()[0]), para), para)
    defaults = re.search(r"config_init\(Config \*c\) \{(.*?)\n\}", config_c, re.S).group(1)
    for field, key in [("max_per_minute", "MaxResetsPerMinute"), ("max_wait_sec", "MaxQueueWaitSec"),
                       ("polkit_timeout_sec", "PolkitTimeoutSec"), ("ready_timeout_sec", "DeviceReadyTimeoutSec")]:
        v = re.search(r"\." + field + r"\s*=\s*(\d+)", defaults).group(1)
        para = d8.split(f"*{key}=*", 1)[1].split("\n\n", 1)[0]
        check(f"man pcresetd(8) gives the default of {key} ({v})", f"default {v}" in para, para)
    audit = read(os.path.join(a.srcdir, "daemon", "audit.c"))
    for mid, event in re.findall(r'\{ "([0-9a-f]{32})", "(\w+)"', audit):
        check(f"man pcresetd(8) lists MESSAGE_ID of {event}", f"*{event}*\n\t{mid}" in d8)

    # the D-Bus API page: every member with its signature, every error,
    # the polkit actions and their details
    api = pages["org.freedesktop.pcreset1.5"]
    xml = ET.parse(os.path.join(a.srcdir, "dbus", "org.freedesktop.pcreset1.Manager.xml"))
    iface = xml.getroot().find("interface")
    for m in iface.findall("method"):
        ins = ", ".join(f"in  {x.get('type')} {x.get('name')}" for x in m.findall("arg")
                        if x.get("direction") != "out")
        outs = [f"out {x.get('type')} {x.get('name')}" for x in m.findall("arg") if x.get("direction") == "out"]
        synopsis = re.sub(r"\s+", " ", api.split("```", 2)[1])
        sig = re.sub(r"\s+", " ", f"{m.get('name')}({', '.join(filter(None, [ins] + outs))});")
        check(f"man org.freedesktop.pcreset1(5) has {m.get('name')} with its signature", sig in synopsis, sig)
        check(f"man org.freedesktop.pcreset1(5) describes {m.get('name')}", f"\n*{m.get('name')}*(" in api)
    for s in iface.findall("signal"):
        args = ", ".join(f"{x.get('type')} {x.get('name')}" for x in s.findall("arg"))
        check(f"man org.freedesktop.pcreset1(5) has signal {s.get('name')}({args})",
              f"{s.get('name')}({args});" in api)
    for p in iface.findall("property"):
        check(f"man org.freedesktop.pcreset1(5) has property {p.get('name')}", f"*{p.get('name')}* ({p.get('type')}" in api)
    xml_text = read(os.path.join(a.srcdir, "dbus", "org.freedesktop.pcreset1.Manager.xml"))
    # "org.freedesktop.DBus.Error.InvalidArgs, .AccessDenied, ..."
    std_list = xml_text.split("org.freedesktop.DBus.Error.", 1)[1].split("Every error", 1)[0]
    std_errors = set(re.findall(r"(?:^|\.)([A-Z]\w+)", std_list))
    check("the interface XML lists the standard errors", {"InvalidArgs", "AccessDenied", "LimitsExceeded",
                                                          "InteractiveAuthorizationRequired"} <= std_errors,
          std_errors)
    for err in errors + [f"org.freedesktop.DBus.Error.{e}" for e in sorted(std_errors)]:
        check(f"man org.freedesktop.pcreset1(5) documents {err}", f"*{err}*" in api)
    policy = read(os.path.join(a.srcdir, "polkit", "org.freedesktop.pcreset1.policy"))
    for action in re.findall(r'<action id="([^"]+)"', policy):
        check(f"man org.freedesktop.pcreset1(5) documents polkit action {action}", f"*{action}*" in api)
        check(f"man pcresetd(8) documents polkit action {action}", f"*{action}*" in d8)
    for detail in ["device", "vendor", "product", "scope", "mask", "affected"]:
        check(f"man org.freedesktop.pcreset1(5) documents polkit detail {detail}", f"*{detail}*" in api)


# ---- completion ----------------------------------------------------------------

def complete(a, line, path):
    script = (f". '{os.path.join(a.srcdir, 'completion', 'pcresetctl')}'; COMP_LINE=$1; "
              "COMP_POINT=${#COMP_LINE}; COMP_WORDS=(); COMP_CWORD=0; _pcresetctl pcresetctl; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    rc, out, err = run(["bash", "-c", script, "bash", line], env={"PATH": path})
    return rc, [w for w in out.split("\n") if w], err


def check_completion(a):
    path = "/usr/bin:/bin"      # no pcresetctl: addresses come from sysfs
    cases = [
        ("pcresetctl ", ["list", "info", "reset", "claim", "release", "monitor", "oci-hook", "cdi", "help"]),
        ("pcresetctl re", ["reset", "release"]),
        ("pcresetctl --json mo", ["monitor"]),
        ("pcresetctl --ti", ["--timeout"]),
        ("pcresetctl reset --scope ", ["device_specific", "flr", "pm", "slot", "bus", "acpi", "cxl_bus",
                                       "func", "link", "any"]),
        ("pcresetctl reset -s flr,p", ["flr,pm"]),
        ("pcresetctl info --scope=li", ["link"]),     # bash replaces what follows '='
        ("pcresetctl oci-hook --", ["--help", "--version", "--scope", "--timeout", "--json", "--no-ask-password",
                                    "--sysfs-root", "--dev-root", "--required", "--allow-unproven", "--node"]),
        ("pcresetctl cdi --", ["--help", "--version", "--scope", "--timeout", "--json", "--no-ask-password",
                               "--sysfs-root", "--dev-root", "--required", "--output-dir", "--watch"]),
        ("pcresetctl cdi --output-dir /us", ["/usr"]),
        ("pcresetctl reset --", ["--help", "--version", "--scope", "--timeout", "--json", "--no-ask-password"]),
        ("pcresetctl list ", []),
        ("pcresetctl --timeout 5 ", ["list", "info", "reset", "claim", "release", "monitor", "oci-hook", "cdi",
                                     "help"]),
    ]
    for line, want in cases:
        rc, got, err = complete(a, line, path)
        check(f"completion of '{line}'", rc == 0 and got == want and err == "", f"got {got} {err}")
    rc, got, err = complete(a, "pcresetctl oci-hook --dev-root /us", path)
    check("completion of a directory for --dev-root", rc == 0 and got == ["/usr"], got)
    sysfs = sorted(os.listdir("/sys/bus/pci/devices")) if os.path.isdir("/sys/bus/pci/devices") else []
    rc, got, err = complete(a, "pcresetctl info ", path)
    check("completion of addresses from /sys/bus/pci/devices without pcresetctl", rc == 0 and got == sysfs,
          f"got {got}, sysfs {sysfs}")
    # with a pcresetctl that answers: its addresses, not sysfs's
    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "pcresetctl")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\ncat <<'EOF'\n"
                    '[\n  {\n    "address":"0000:0a:00.0",\n    "parent":"0000:00:1c.0"\n  },\n'
                    '  {\n    "address":"0000:0a:00.1",\n    "parent":"0000:00:1c.0"\n  }\n]\nEOF\n')
        os.chmod(stub, 0o755)
        rc, got, _ = complete(a, "pcresetctl reset ", f"{tmp}:{path}")
        check("completion of addresses from pcresetctl --json list", got == ["0000:0a:00.0", "0000:0a:00.1"], got)
        rc, got, _ = complete(a, "pcresetctl reset 0000:0a:00.", f"{tmp}:{path}")
        check("completion after the last ':' only", got == ["00.0", "00.1"], got)
        rc, got, _ = complete(a, "pcresetctl claim 0a", f"{tmp}:{path}")
        check("completion of the short form", got == ["0a:00.0", "0a:00.1"], got)


# ---- hooks.d -------------------------------------------------------------------

def check_hook_json(a):
    try:
        hook = json.loads(read(a.hook_json))
    except (OSError, ValueError) as e:
        check("hooks.d: pcresetd.json is JSON", False, str(e))
        return
    check("hooks.d: version 1.0.0", hook.get("version") == "1.0.0")
    h = hook.get("hook", {})
    check("hooks.d: runs pcresetctl oci-hook", os.path.basename(h.get("path", "")) == "pcresetctl"
          and os.path.isabs(h.get("path", "")) and h.get("args") == ["pcresetctl", "oci-hook"], h)
    check("hooks.d: stages prestart and poststop", hook.get("stages") == ["prestart", "poststop"])
    when = hook.get("when", {})
    check("hooks.d: injected on annotations only", list(when) == ["annotations"], when)
    ann = when.get("annotations", {})

    def matches(key, value):
        # oci-hooks(5): every key pattern must match some annotation whose
        # value matches the value pattern (POSIX ERE; these need nothing more)
        return all(any(re.search(kp, k) and re.search(vp, v) for k, v in {key: value}.items())
                   for kp, vp in ann.items())

    for key, value, want in [
        ("org.freedesktop.pcreset.devices", "0000:01:00.0", True),
        ("org.freedesktop.pcreset.scope", "func,link", True),
        ("org.freedesktop.pcreset.required", "true", False),
        ("org.freedesktop.pcreset.devices", "", False),
        ("xorg.freedesktop.pcreset.devices", "0000:01:00.0", False),
        ("org.freedesktop.pcresetXdevices", "0000:01:00.0", False),
        ("io.kubernetes.cri-o.Devices", "/dev/vfio/12", False),
    ]:
        check(f"hooks.d: {key}={value!r} {'matches' if want else 'does not match'}", matches(key, value) == want)


# ---- the hook's input ------------------------------------------------------------

def check_hook_input(a):
    ctl = a.pcresetctl
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "bundle")
        os.mkdir(bundle)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump({"ociVersion": "1.0.2", "linux": {"devices": [
                {"path": "/dev/vfio/vfio", "type": "c", "major": 10, "minor": 196},
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]}}, f)
        broken = os.path.join(tmp, "broken")
        os.mkdir(broken)
        with open(os.path.join(broken, "config.json"), "w") as f:
            f.write('{"ociVersion": ')

        def state(**kw):
            s = {"ociVersion": "1.0.2", "id": "c1", "status": "created", "pid": 1, "bundle": bundle}
            s.update(kw)
            return json.dumps(s)

        usage = [
            ("empty stdin", "", "stdin is not an OCI container state: it ends in the middle of a JSON value"),
            ("not JSON", "hello", "stdin is not an OCI container state"),
            ("a JSON array", "[]", "stdin is not an OCI container state: it is not a JSON object"),
            ("trailing garbage", state() + " x", "there is more after the JSON value"),
            ("no id", json.dumps({"bundle": bundle}), 'it has no "id"'),
            ("no bundle", json.dumps({"id": "c1"}), 'it has no "bundle"'),
            ("a relative bundle", state(bundle="bundle"), "is not an absolute path"),
            ("more than 1 MiB", '{"id":"' + "x" * (1 << 20) + '"}', "it is larger than 1 MiB"),
        ]
        for name, stdin, needle in usage:
            rc, out, err = run([ctl, "oci-hook"], stdin=stdin)
            check(f"oci-hook: {name} is a usage error (2)", rc == 2 and needle in err and out == "", f"{rc} {err}")
        rc, out, err = run([ctl, "--json", "oci-hook"], stdin="[]")
        check("oci-hook --json: a usage error as JSON too",
              rc == 2 and json.loads(out)["error"] == "org.freedesktop.DBus.Error.InvalidArgs", out)

        # nothing to reset: no bus needed (there is none here)
        rc, out, err = run([ctl, "oci-hook"], stdin=state())
        check("oci-hook: no VFIO device, no annotation: nothing to do, exit 0",
              rc == 0 and out == "oci-hook c1: nothing to reset: no VFIO devices in linux.devices and no "
                                 "org.freedesktop.pcreset.devices annotation\n" and err == "", f"{rc} {out} {err}")
        rc, out, err = run([ctl, "--json", "oci-hook"], stdin=state(status="stopped"))
        rep = json.loads(out) if rc == 0 else {}
        check("oci-hook --json: an empty report", rc == 0 and rep.get("devices") == [] and rep.get("nodes") == []
              and rep.get("exit_code") == 0 and rep.get("scope_name") == "func" and rep.get("required") is False,
              out)

        # failures of the hook as a whole: exit 0 unless required
        for name, kw, needle, code in [
            ("config.json missing", {"bundle": tmp}, "cannot open " + tmp + "/config.json: No such file", 1),
            ("config.json broken", {"bundle": broken}, "is not an OCI runtime configuration", 1),
            ("the container running", {"status": "running"}, "the container is running", 2),
            ("a bad scope", {"annotations": {"org.freedesktop.pcreset.scope": "flr,nonsense"}},
             "invalid org.freedesktop.pcreset.scope 'flr,nonsense'", 2),
        ]:
            rc, out, err = run([ctl, "oci-hook"], stdin=state(**kw))
            check(f"oci-hook: {name}: reported, exit 0", rc == 0 and needle in err and "no device was reset" in err,
                  f"{rc} {err}")
            ann = dict(kw.get("annotations", {}))
            ann["org.freedesktop.pcreset.required"] = "true"
            kw2 = dict(kw, annotations=ann)
            rc, out, err = run([ctl, "oci-hook"], stdin=state(**kw2))
            check(f"oci-hook: {name}, required: exit {code}", rc == code and needle in err, f"{rc} {err}")
        # a value that is no boolean counts as true
        rc, out, err = run([ctl, "oci-hook"], stdin=state(bundle=tmp, annotations={
            "org.freedesktop.pcreset.required": "perhaps"}))
        check("oci-hook: required=perhaps counts as true", rc == 1 and "is not a boolean" in err, f"{rc} {err}")
        # an address the annotation names, no bus: the hook refuses it itself
        rc, out, err = run([ctl, "oci-hook"], stdin=state(annotations={
            "org.freedesktop.pcreset.devices": "0000:01:00.0,zz:00.0", "org.freedesktop.pcreset.required": "true"}))
        check("oci-hook: an address not given to the container is refused without asking",
              rc == 5 and "0000:01:00.0 not reset: not given to the container" in err
              and "zz:00.0 not reset: invalid PCI address" in err, f"{rc} {err}")

    # the hook's options belong to it alone
    for opt in (["--sysfs-root", "/sys"], ["--dev-root", "/dev"], ["--allow-unproven"]):
        rc, out, err = run([ctl] + opt + ["list"])
        check(f"{opt[0]} is refused for list", rc == 2 and "only apply to oci-hook" in err, err)
    rc, out, err = run([ctl, "oci-hook", "--dev-root", ""], stdin="{}")
    check("an empty --dev-root is refused", rc == 2 and "need a directory" in err, err)
    rc, out, err = run([ctl, "monitor", "extra"])
    check("monitor takes no arguments", rc == 2, err)
    rc, out, err = run([ctl, "monitor"])
    check("monitor without a bus: exit 10", rc == 10 and "Cannot connect to the system bus" in err, f"{rc} {err}")
    rc, out, err = run([ctl, "--json", "monitor"])
    check("monitor --json without a bus: the error as JSON",
          rc == 10 and json.loads(out)["error"] == "org.freedesktop.DBus.Error.NoServer", out)


def main():
    p = argparse.ArgumentParser()
    for opt in ("--srcdir", "--pcresetctl", "--pcresetd", "--scdoc", "--hook-json"):
        p.add_argument(opt, required=True)
    a = p.parse_args()
    for part in (check_man, check_completion, check_hook_json, check_hook_input):
        try:
            part(a)
        except Exception as e:  # a crash in one part is a failure, not a lost run
            check(f"{part.__name__} ran to the end", False, repr(e))
    print(f"1..{len(results)}")
    failed = 0
    for i, (name, ok, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines() or [""]:
                print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
