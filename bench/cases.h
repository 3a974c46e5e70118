/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The cases, by the fake host they run on (bench/gen-topologies writes the
 * hosts): each function brings its host up, runs those of its cases that
 * are wanted (want(); pcreset-bench.c calls it only when one is), adds their
 * rows to the report, and takes the host down. A case that cannot run leaves
 * an ERROR row (fail()) and the next case runs all the same.
 */

/* case-sample.c, 50 devices: root, unprivileged, slow, idle */
void host_sample(void);
/* case-parallel.c, 32 + 1 reset domains: parallel, onedomain */
void host_parallel(void);
/* case-big.c, 4,121 functions: big */
void host_big(void);
/* case-procscan.c, a fake /proc of 5,000 processes: procscan */
void host_procscan(void);
/* case-hostile.c, the open-handle host on the real /proc: polkitflood,
 * fdflood */
void host_hostile(void);
/* case-scheduler.c, no host (daemon/scheduler.c linked in): scheduler */
void host_scheduler(void);
