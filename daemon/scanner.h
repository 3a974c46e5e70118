/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The scanner: the /proc scan (holders.h) off the bus loop. Its cost grows
 * with what every process on the host holds open, which a stranger
 * controls, so the loop never does it: a call that needs a scan waits (the
 * scanner keeps its message and puts it back into the bus's read queue when
 * a scan that started after it finishes, as polkit.c does with answers),
 * and every call of the next SCANNER_SHARE_USEC shares that scan. A flood of
 * calls costs one scan at a time, whoever makes it.
 *
 * With a VFIO watch (vfio-watch.h) a scan is trusted for informational
 * calls (!fresh) up to SCANNER_TRUST_USEC, as long as no VFIO node was
 * opened, closed, created or removed since it started (and not at all
 * once one was, however young): what strangers hold costs nothing until a
 * node changes hands. The age limit bounds what the
 * watch cannot hear (a node opened through a private mknod, an fd handed
 * to another process). A reset always waits for a fresh scan.
 *
 * Loop thread only; the scan itself runs on a worker thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "holders.h"

#define SCANNER_SHARE_USEC (250 * USEC_PER_MSEC)
#define SCANNER_TRUST_USEC (5 * USEC_PER_SEC)
/* Calls that may wait for a scan at once: per uid, and all together. */
#define SCANNER_MAX_WAITERS_PER_UID 32
#define SCANNER_MAX_WAITERS 1024

typedef struct Scanner Scanner;

/* dev_root: where the VFIO nodes are watched (NULL: no watch). Starts the
 * first scan right away when there is a watch, so the first informational
 * call finds one. */
int scanner_new(sd_event *e, const char *proc_root, const char *sysfs_root, const char *dev_root, Scanner **ret);
/* Waits for a running scan; waiting calls are put back to be answered
 * (the bus is still open). */
Scanner *scanner_free(Scanner *s);

/* The scan to decide call on, borrowed: the one call waited for (fresh),
 * else, if !fresh, the last one while younger than SCANNER_SHARE_USEC or
 * trusted (above). NULL:
 * none fits, scanner_wait() - or, with *ret_error, the scan call waited
 * for failed. */
Holders *scanner_get(Scanner *s, sd_bus_message *call, bool fresh, int *ret_error);
/* The last scan whatever its age (NULL if none yet): for a decision that
 * cannot wait, when a fresh check follows anyway. */
Holders *scanner_last(Scanner *s);
/* Keeps call (of uid) until a scan finished, then puts it back into the
 * read queue: one that starts from now on if fresh, else also one already
 * running. 0, or -EBUSY with SCANNER_MAX_WAITERS_PER_UID of uid's or
 * SCANNER_MAX_WAITERS waiting. */
int scanner_wait(Scanner *s, sd_bus_message *call, uid_t uid, bool fresh);
/* The caller left: its waiting calls are dropped. */
void scanner_forget_sender(Scanner *s, const char *sender);
unsigned scanner_n_waiting(const Scanner *s);
