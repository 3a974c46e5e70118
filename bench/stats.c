/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stats.h"

double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

double percentile(GArray *a, double p) {
        if (a->len == 0)
                return NAN;
        qsort(a->data, a->len, sizeof(double), dbl_cmp);
        size_t rank = (size_t) ceil(p / 100.0 * a->len);
        if (rank < 1)
                rank = 1;
        return g_array_index(a, double, rank - 1);
}

double mean(GArray *a) {
        double s = 0;
        for (guint i = 0; i < a->len; i++)
                s += g_array_index(a, double, i);
        return a->len ? s / a->len : NAN;
}

double median_of(double *v, size_t n) {
        qsort(v, n, sizeof(double), dbl_cmp);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double run_timed(const char *const *argv, char **out, GError **error) {
        int status;
        double t0 = now_ms();
        GSpawnFlags flags = G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL | (out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL);
        if (!g_spawn_sync(NULL, (char **) argv, NULL, flags, NULL, NULL, out, NULL, &status, error) ||
            !g_spawn_check_wait_status(status, error))
                return NAN;
        return now_ms() - t0;
}

double loadavg(void) {
        double l = NAN;
        FILE *f = fopen("/proc/loadavg", "re");
        if (f) {
                if (fscanf(f, "%lf", &l) != 1)
                        l = NAN;
                fclose(f);
        }
        return l;
}
