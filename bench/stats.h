/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Time and statistics for the benchmark driver: one clock (CLOCK_MONOTONIC
 * in ms, the clock of the FUSE log too) for every figure, the nearest-rank
 * percentiles, means and medians the rows report, the wall time of a
 * baseline command (lspci, find), and the load average the table warns
 * about. An empty GArray gives NAN.
 */

#include <glib.h>
#include <stddef.h>

double now_ms(void);

/* Nearest-rank percentile of a GArray of doubles (sorted in place). */
double percentile(GArray *a, double p);
double mean(GArray *a);
/* Median of n > 0 values (sorted in place). */
double median_of(double *v, size_t n);

/* Runs argv (searched in PATH, stderr to /dev/null; stdout into *out if
 * out, else to /dev/null) to the end; its wall time in ms, or NAN with
 * *error set if it could not run or did not exit 0. */
double run_timed(const char *const *argv, char **out, GError **error);

/* The 1-minute load average: the table says when the machine was busy. */
double loadavg(void);
