/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The report: every figure a case measures is one row (case, figure, value
 * and baseline in one unit, target, verdict). At the end the rows, in the
 * order they were added, are printed as one table on stdout and written, the
 * same rows, as JSON. A case that cannot run calls fail(): an ERROR row and
 * one more failure; a correctness violation counts in failures too. Progress
 * (say()) goes to stderr, never between the table's lines.
 */

#include <glib.h>
#include <stdio.h>

/* Cases that could not run, correctness violations: the exit code. */
extern int failures;

/* Before any row; start_ms (now_ms()) is the run's start, for say(). */
void report_init(double start_ms);

/* unit: "ms", "MB", "/s", "" or "count" (whole numbers); baseline NAN: none;
 * target NULL: "-"; met 1 yes, 0 no, -1 no target; note may be NULL. */
void add_row(const char *case_name, const char *figure, const char *unit, double value, double baseline,
             const char *target, int met, const char *note);

void fail(const char *case_name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define FAIL(...) do { fail(__VA_ARGS__); return; } while (0)

/* A progress line on stderr, stamped with the seconds since the start. */
void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The title, the table, how many targets were met, and a warning when the
 * load average says the machine was busy. */
void print_report(FILE *out, gboolean smoke, double total_s, double load0, double load1);

gboolean write_json(const char *path, gboolean smoke, double total_s, double load0, double load1);
