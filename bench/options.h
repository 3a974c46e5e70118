/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The command line of pcreset-bench, parsed by main() (pcreset-bench.c)
 * before any case runs and never changed after that: the run's mode, where
 * the fake hosts and the direct baseline are, which cases to run.
 */

#include <glib.h>

typedef struct Options {
        gboolean smoke;    /* --smoke: a short run of every case, timings are not verdicts */
        char *topodir;     /* --topologies: the fake host descriptions (bench/gen-topologies) */
        char *direct_bin;  /* --direct: the direct-reset baseline program */
        char *json_path;   /* --json: where the rows go */
        char **only_cases; /* --case NAME...; NULL or empty: every case */
} Options;

extern Options options;

/* Whether the case NAME is to run (--case). */
gboolean want(const char *name);
