/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Config-space walking: pci_config_find_cap() over arbitrary bytes
 * (capability loops, pointers into the header, past the end), and the whole
 * userspace secondary bus reset (sbr_run) against a fake ConfigOps whose
 * config spaces, failures and timings come from the input. A broken or
 * malicious device controls these bytes, so they must never steer a read
 * out of bounds or keep the daemon's worker looping.
 *
 * Input:
 *   [0]    bits 0-1: devices below the bridge (1..3); bit 2: ids given to
 *          sbr_run do not match device 0; bit 3: devices come back with
 *          another device id
 *   [1]    reads of a device answered all-ones after the reset (255: never
 *          back)
 *   [2]    the N-th config access fails with EIO (0: none)
 *   [3]    link status polls that say "down" (255: the link never comes up)
 *   [4..7] DeviceReadyTimeout in ms (at most 60 s)
 *   then 256 config bytes of the bridge, then 256 of each device; the rest
 *   of each 4 KiB config space reads as zeros; what is left of the input
 *   is device 0's extended config space (from 0x100), for
 *   pci_config_find_ext_cap() and health_parse().
 * Checks: find_cap agrees with a reference walk that stops at the first
 * repeated pointer, and what it finds fits in the 256 bytes; sbr_run
 * terminates (bounded accesses and virtual time), asks only for offsets
 * inside config space, writes only what it saved, restores the header of
 * every device when it succeeds, leaves Secondary Bus Reset deasserted
 * unless deasserting it failed, and explains every failure; the extended
 * walk agrees with a reference walk, and health_parse() reads only inside
 * the bytes it is given and reports only speeds and widths that exist.
 */

#include <errno.h>
#include <string.h>

#include "fuzz-util.h"
#include "health.h"
#include "pciconfig.h"
#include "sbr.h"

#define CFG_SIZE 4096
#define MAX_DEVS 3
#define MAX_OPS 1000000           /* sbr_run's loops poll; far more means a loop */

static const char *const dev_names[MAX_DEVS] = { "0000:01:00.0", "0000:01:00.1", "0000:01:00.2" };
#define BRIDGE_NAME "0000:00:01.0"

typedef struct Fake {
        uint8_t bridge[CFG_SIZE];
        uint8_t dev[MAX_DEVS][CFG_SIZE];
        size_t n_devs;
        uint16_t back_as;          /* device id after the reset, 0: the same */
        unsigned not_ready;        /* all-ones reads left; 255 forever */
        unsigned fail_op;          /* 1-based index of the access that fails */
        unsigned link_down;        /* "down" polls left; 255 forever */
        unsigned ops;
        uint64_t now;
        bool asserted, reset_done, deassert_failed;
} Fake;

static uint8_t *lookup(Fake *f, const char *name, int *ret_index) {
        if (strcmp(name, BRIDGE_NAME) == 0) {
                *ret_index = -1;
                return f->bridge;
        }
        for (size_t i = 0; i < f->n_devs; i++)
                if (strcmp(name, dev_names[i]) == 0) {
                        *ret_index = (int) i;
                        return f->dev[i];
                }
        FUZZ_CHECK(false, "sbr_run touched %s, which is neither the bridge nor an affected device", name);
        return NULL;
}

static int fake_access(Fake *f) {
        f->ops++;
        FUZZ_CHECK(f->ops < MAX_OPS, "sbr_run made %u config accesses: it does not terminate", f->ops);
        return f->ops == f->fail_op ? -EIO : 0;
}

static int fake_read(void *ud, const char *name, unsigned off, void *buf, size_t len) {
        Fake *f = ud;
        int i;
        uint8_t *cfg = lookup(f, name, &i);

        FUZZ_CHECK(len > 0 && off < CFG_SIZE && len <= CFG_SIZE - off, "%s: read of %zu bytes at 0x%x", name, len,
                   off);
        if (fake_access(f) < 0)
                return -EIO;
        if (i >= 0 && f->reset_done && f->not_ready > 0) {
                if (f->not_ready != 255)
                        f->not_ready--;
                memset(buf, 0xff, len);
                return 0;
        }
        if (i < 0 && f->reset_done && len == 2 && f->link_down > 0) {
                if (f->link_down != 255)
                        f->link_down--;
                memset(buf, 0, len);  /* Link Status: DLLLA clear */
                return 0;
        }
        memcpy(buf, cfg + off, len);
        return 0;
}

static int fake_write(void *ud, const char *name, unsigned off, const void *buf, size_t len) {
        Fake *f = ud;
        int i;
        uint8_t *cfg = lookup(f, name, &i);
        bool bridge_ctl = i < 0 && off == 0x3e && len == 2;

        /* only saved header registers and capability controls are written back */
        FUZZ_CHECK(len > 0 && len <= 4 && off + len <= 256, "%s: write of %zu bytes at 0x%x", name, len, off);
        FUZZ_CHECK(i >= 0 || bridge_ctl, "wrote 0x%x of the bridge, not its Bridge Control", off);
        if (fake_access(f) < 0) {
                if (bridge_ctl && f->asserted)
                        f->deassert_failed = true;
                return -EIO;
        }
        memcpy(cfg + off, buf, len);
        if (bridge_ctl) {
                bool on = cfg[0x3e] & 0x40;
                if (!on && f->asserted) {
                        /* the reset: every device below loses its config */
                        f->reset_done = true;
                        for (size_t k = 0; k < f->n_devs; k++) {
                                memset(f->dev[k] + 4, 0, 256 - 4);
                                if (f->back_as)
                                        memcpy(f->dev[k] + 2, &f->back_as, 2);
                        }
                }
                f->asserted = on;
        }
        return 0;
}

static void fake_sleep(void *ud, uint64_t usec) {
        ((Fake *) ud)->now += usec;
}

static uint64_t fake_now(void *ud) {
        return ((Fake *) ud)->now;
}

static const ConfigOps fake_ops = {
        .read = fake_read,
        .write = fake_write,
        .sleep_usec = fake_sleep,
        .now_usec = fake_now,
};

/* The walk as the spec means it: follow next pointers from 0x34, stop at
 * the first pointer into the header or one already seen; the first
 * capability with the id counts, and only if its len bytes fit. */
static unsigned reference_find_cap(const uint8_t *cfg, uint8_t id, unsigned len) {
        bool seen[64] = {};
        if (!(cfg[0x06] & 0x10))
                return 0;
        for (unsigned pos = cfg[0x34] & 0xfc; pos >= 0x40 && !seen[pos / 4]; pos = cfg[pos + 1] & 0xfc) {
                if (cfg[pos] == id)
                        return pos + len <= 256 ? pos : 0;
                seen[pos / 4] = true;
        }
        return 0;
}

static void check_find_cap(const uint8_t *cfg) {
        static const unsigned lens[] = { 0, 2, PCI_PM_CAP_LEN, PCI_EXP_CAP_LEN, 0xc0 };
        /* exactly 256 bytes on the heap, so ASan catches any read past them */
        uint8_t *copy = malloc(256);
        if (!copy)
                abort();
        memcpy(copy, cfg, 256);
        for (unsigned id = 0; id < 256; id++)
                for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                        unsigned pos = pci_config_find_cap(copy, (uint8_t) id, lens[i]);
                        unsigned want = reference_find_cap(copy, (uint8_t) id, lens[i]);
                        FUZZ_CHECK(pos == want, "capability 0x%02x (%u bytes): found at 0x%x, the list has it at 0x%x",
                                   id, lens[i], pos, want);
                        FUZZ_CHECK(pos == 0 || (pos >= 0x40 && pos + lens[i] <= 256 && copy[pos] == id),
                                   "capability 0x%02x (%u bytes) at 0x%x", id, lens[i], pos);
                }
        free(copy);
}

/* The extended list as the spec means it: from 0x100, stop at a zero or
 * all-ones header, a pointer below 0x100, past the end, or seen before. */
static unsigned reference_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id, unsigned cap_len) {
        bool seen[1024] = {};
        for (unsigned pos = 0x100; pos >= 0x100 && pos + 4 <= len && !seen[pos / 4];) {
                uint32_t h = pci_config_le32(cfg, pos);
                if (h == 0 || h == 0xffffffffu)
                        return 0;
                if ((h & 0xffff) == id)
                        return pos + cap_len <= len ? pos : 0;
                seen[pos / 4] = true;
                pos = (h >> 20) & 0xffc;
        }
        return 0;
}

/* cfg: 4096 bytes, of which the first len are the device's */
static void check_ext_caps(const uint8_t *cfg, size_t len) {
        static const unsigned lens[] = { 4, PCI_AER_CAP_LEN, 0x200 };
        /* exactly len bytes on the heap, so ASan catches any read past them */
        uint8_t *copy = malloc(len);
        if (!copy)
                abort();
        memcpy(copy, cfg, len);
        for (unsigned id = 0; id < 0x30; id++)
                for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                        unsigned pos = pci_config_find_ext_cap(copy, len, (uint16_t) id, lens[i]);
                        unsigned want = reference_find_ext_cap(copy, len, (uint16_t) id, lens[i]);
                        FUZZ_CHECK(pos == want, "extended capability 0x%04x (%u bytes): found at 0x%x, the list "
                                   "has it at 0x%x", id, lens[i], pos, want);
                        FUZZ_CHECK(pos == 0 || (pos >= 0x100 && pos + lens[i] <= len), "extended capability 0x%04x "
                                   "(%u bytes) at 0x%x of %zu", id, lens[i], pos, len);
                }
        HealthSample s;
        health_parse(copy, len, &s);
        FUZZ_CHECK(s.readable == (len >= 256), "health_parse: readable %d with %zu bytes", s.readable, len);
        FUZZ_CHECK(s.speed_mts == 0 || s.speed_mts == 2500 || s.speed_mts == 5000 || s.speed_mts % 8000 == 0,
                   "health_parse: speed %u MT/s", s.speed_mts);
        FUZZ_CHECK(s.speed_mts <= 64000 && (s.speed_mts == 0) == (s.width == 0) && s.width < 64,
                   "health_parse: %u MT/s x%u", s.speed_mts, s.width);
        FUZZ_CHECK(!s.speed_mts || s.link_regs, "health_parse: a link without link registers");
        FUZZ_CHECK(!s.aer || len > 0x100, "health_parse: AER in %zu bytes", len);
        free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        Fake *f = calloc(1, sizeof *f);
        SbrDevice devs[MAX_DEVS];
        char *message = NULL;

        if (!f)
                abort();
        uint8_t flags = fuzz_u8(&in);
        f->n_devs = 1 + (flags & 3) % MAX_DEVS;
        f->not_ready = fuzz_u8(&in);
        f->fail_op = fuzz_u8(&in);
        f->link_down = fuzz_u8(&in);
        uint64_t timeout = (uint64_t) (fuzz_u32(&in) % 60001) * 1000;

        for (size_t k = 0; k <= f->n_devs; k++) {
                uint8_t *cfg = k == 0 ? f->bridge : f->dev[k - 1];
                size_t n = in.size < 256 ? in.size : 256;
                memcpy(cfg, in.data, n);
                in.data += n;
                in.size -= n;
                check_find_cap(cfg);
        }
        /* device 0's extended space: the rest of the input */
        size_t ext = in.size < CFG_SIZE - 256 ? in.size : CFG_SIZE - 256;
        memcpy(f->dev[0] + 256, in.data, ext);
        check_ext_caps(f->dev[0], 256);
        check_ext_caps(f->dev[0], 256 + ext);
        check_ext_caps(f->dev[0], CFG_SIZE);
        if (flags & 8)
                f->back_as = (uint16_t) (f->dev[0][2] | f->dev[0][3] << 8) ^ 0x5a5a;
        for (size_t k = 0; k < f->n_devs; k++)
                devs[k] = (SbrDevice) {
                        .name = dev_names[k],
                        .vendor_id = (uint16_t) (f->dev[k][0] | f->dev[k][1] << 8),
                        .device_id = (uint16_t) (f->dev[k][2] | f->dev[k][3] << 8),
                };
        if (flags & 4)
                devs[0].device_id ^= 1;

        /* what every device must hold again after a successful reset */
        uint8_t before[MAX_DEVS][256];
        for (size_t k = 0; k < f->n_devs; k++)
                memcpy(before[k], f->dev[k], 256);

        int r = sbr_run(&fake_ops, f, BRIDGE_NAME, devs, f->n_devs, timeout, &message);

        FUZZ_CHECK(r <= 0, "sbr_run returned %d", r);
        if (r < 0)
                FUZZ_CHECK(message && *message, "sbr_run failed (%s) without saying why", strerror(-r));
        else
                FUZZ_CHECK(!message, "sbr_run succeeded with a message: %s", message);
        FUZZ_CHECK(!f->asserted || f->deassert_failed, "Secondary Bus Reset left asserted (sbr_run: %d %s)", r,
                   message ?: "");
        if (r == 0) {
                FUZZ_CHECK(f->reset_done, "sbr_run succeeded without resetting the bus");
                FUZZ_CHECK(!(flags & 4) && !f->back_as, "sbr_run succeeded though device ids do not match");
                /* the header registers the kernel restores: COMMAND, cache
                 * line size and latency timer, BARs to interrupt line */
                static const struct { unsigned off, len; } restored[] = { { 0x04, 2 }, { 0x0c, 2 }, { 0x10, 0x30 } };
                for (size_t k = 0; k < f->n_devs; k++)
                        for (size_t j = 0; j < sizeof restored / sizeof restored[0]; j++)
                                FUZZ_CHECK(memcmp(f->dev[k] + restored[j].off, before[k] + restored[j].off,
                                                  restored[j].len) == 0,
                                           "%s: config 0x%02x..0x%02x not restored", dev_names[k], restored[j].off,
                                           restored[j].off + restored[j].len - 1);
        }
        /* the waits are bounded: link 1 s + settle + each device's timeout,
         * plus one backoff step */
        uint64_t bound = SBR_ASSERT_USEC + SBR_CONVENTIONAL_USEC + SBR_LINK_TIMEOUT_USEC + SBR_SETTLE_USEC +
                         f->n_devs * (timeout + 256000 + SBR_LINK_POLL_USEC);
        FUZZ_CHECK(f->now <= bound, "sbr_run waited %llu us, more than %llu", (unsigned long long) f->now,
                   (unsigned long long) bound);
        free(message);
        free(f);
        return 0;
}
