#!/bin/bash
# The quick start's tour, run by pcreset-sandbox next to a real pcresetd on
# the sample host (tests/fixtures/topologies/sample.topo). Each step prints
# the command and its answer; the last steps check that nothing was left
# changed.
set -u
ctl=${PCRESETCTL_BIN:?}
alice=(setpriv --reuid=pcr-alice --regid=pcr-alice --init-groups)
bob=(setpriv --reuid=pcr-bob --regid=pcr-bob --init-groups)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; printf '(exit %d)\n' $?; }
failures=0
expect() { # expect CODE CMD...: run, and count a wrong exit code as a failure
        local want=$1; shift
        printf '$ %s\n' "$*"; "$@"; local got=$?
        if [ "$got" = "$want" ]; then printf '(exit %d, as expected)\n' "$got"
        else printf '(exit %d, EXPECTED %d)\n' "$got" "$want"; failures=$((failures + 1)); fi
}
rm_of() { cat "$PCRESET_FAKE_ROOT/sys/bus/pci/devices/$1/reset_method"; }

step "The daemon on the system bus"
run busctl introspect org.freedesktop.pcreset1 /org/freedesktop/pcreset1 org.freedesktop.pcreset1.Manager

step "Every device, its driver, state and the resets it can do (as an unprivileged user)"
expect 0 "${bob[@]}" "$ctl" --no-ask-password list

step "What would a function reset of the GPU touch? (GetResetInfo needs no authorization)"
expect 0 "${bob[@]}" busctl call org.freedesktop.pcreset1 /org/freedesktop/pcreset1 \
        org.freedesktop.pcreset1.Manager GetResetInfo su 0000:01:00.0 39
expect 0 "${bob[@]}" "$ctl" info 0000:01:00.0 --scope func

step "A link reset of the GPU would also hit its audio function, bound to the host: refused"
expect 4 "$ctl" info 0000:01:00.0 --scope link

step "root resets the NVMe, which the host's nvme driver uses: refused and named"
expect 1 busctl call org.freedesktop.pcreset1 /org/freedesktop/pcreset1 \
        org.freedesktop.pcreset1.Manager ResetDevice su 0000:02:00.0 2

step "root claims it first, then resets it with FLR (0x02); the reply says what ran"
expect 0 "$ctl" claim 0000:02:00.0
expect 0 busctl call org.freedesktop.pcreset1 /org/freedesktop/pcreset1 \
        org.freedesktop.pcreset1.Manager ResetDevice su 0000:02:00.0 2

step "pcr-alice (group pcr-gpu) resets the idle GPU: the polkit rule allows NVIDIA + FLR"
expect 0 "${alice[@]}" "$ctl" --no-ask-password reset 0000:01:00.0 --scope flr

step "...but not the virtio NIC: not NVIDIA, and no password can be typed here"
expect 6 "${alice[@]}" "$ctl" --no-ask-password reset 0000:07:00.0 --scope flr

step "pcr-bob is refused by a rule"
expect 6 "${bob[@]}" "$ctl" --no-ask-password reset 0000:01:00.0 --scope flr

step "Nothing left changed: reset_method is as the kernel had it"
for d in 0000:01:00.0 0000:02:00.0 0000:07:00.0; do printf '%s reset_method: %s\n' "$d" "$(rm_of $d)"; done
[ "$(rm_of 0000:01:00.0)" = "flr bus" ] && [ "$(rm_of 0000:02:00.0)" = "flr bus" ] || failures=$((failures + 1))

step "The audit trail (journal records; here on the daemon's stderr)"
grep -E 'PCRESET_EVENT=(completed|refused)' "$PCRESETD_LOG" | sed 's/^pcresetd: //' | cut -c1-220

echo
if [ "$failures" -eq 0 ]; then echo "quickstart: every step answered as expected"; else echo "quickstart: $failures step(s) answered unexpectedly"; fi
exit "$failures"
