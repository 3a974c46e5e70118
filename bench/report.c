/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "report.h"
#include "stats.h"

typedef struct Row {
        char *case_name, *figure, *unit, *target, *note;
        double value, baseline; /* baseline NAN: none */
        int met;                /* 1 yes, 0 no, -1 no target */
} Row;

static GPtrArray *rows;
static double start_ms;
int failures;

void report_init(double start) {
        rows = g_ptr_array_new();
        start_ms = start;
}

void add_row(const char *case_name, const char *figure, const char *unit, double value, double baseline,
             const char *target, int met, const char *note) {
        Row *r = g_new0(Row, 1);
        r->case_name = g_strdup(case_name);
        r->figure = g_strdup(figure);
        r->unit = g_strdup(unit);
        r->value = value;
        r->baseline = baseline;
        r->target = g_strdup(target ? target : "-");
        r->met = met;
        r->note = g_strdup(note);
        g_ptr_array_add(rows, r);
}

static char *fmt_num(double v, const char *unit) {
        if (isnan(v))
                return g_strdup("-");
        if (g_str_equal(unit, "") || g_str_equal(unit, "count"))
                return g_strdup_printf("%.0f", v);
        if (fabs(v) >= 100)
                return g_strdup_printf("%.1f %s", v, unit);
        if (fabs(v) >= 10)
                return g_strdup_printf("%.2f %s", v, unit);
        return g_strdup_printf("%.3f %s", v, unit);
}

static double row_ratio(const Row *r) {
        if (isnan(r->baseline) || r->baseline == 0 || isnan(r->value))
                return NAN;
        return r->value / r->baseline;
}

static void print_table(FILE *out) {
        const char *hdr[] = { "case", "figure", "value", "baseline", "ratio", "target", "met" };
        int w[7];
        GPtrArray *cells = g_ptr_array_new_with_free_func(g_free);

        for (int i = 0; i < 7; i++)
                w[i] = (int) g_utf8_strlen(hdr[i], -1);
        for (guint i = 0; i < rows->len; i++) {
                Row *r = rows->pdata[i];
                double ratio = row_ratio(r);
                char *c[7] = {
                        g_strdup(r->case_name), g_strdup(r->figure), fmt_num(r->value, r->unit),
                        fmt_num(r->baseline, r->unit),
                        isnan(ratio) ? g_strdup("-") : g_strdup_printf("%.3f", ratio), g_strdup(r->target),
                        g_strdup(r->met < 0 ? "-" : r->met ? "yes" : "NO"),
                };
                for (int k = 0; k < 7; k++) {
                        w[k] = MAX(w[k], (int) g_utf8_strlen(c[k], -1));
                        g_ptr_array_add(cells, c[k]);
                }
        }
        /* printf pads bytes, not characters: pad by hand for "≤" and "×" */
#define PAD(s, width) fprintf(out, "| %s%*s ", (s), (width) - (int) g_utf8_strlen((s), -1), "")
        for (int k = 0; k < 7; k++)
                PAD(hdr[k], w[k]);
        fprintf(out, "|\n");
        for (int k = 0; k < 7; k++) {
                fprintf(out, "|");
                for (int j = 0; j < w[k] + 2; j++)
                        fputc('-', out);
        }
        fprintf(out, "|\n");
        for (guint i = 0; i < rows->len; i++) {
                for (int k = 0; k < 7; k++)
                        PAD((char *) cells->pdata[i * 7 + k], w[k]);
                fprintf(out, "|\n");
        }
#undef PAD
        g_ptr_array_unref(cells);
}

void print_report(FILE *out, gboolean smoke, double total_s, double load0, double load1) {
        fprintf(out, "\npcresetd benchmarks (%s run, %.0f s; load average %.2f at the start, %.2f at the end)\n\n",
                smoke ? "smoke" : "full", total_s, load0, load1);
        print_table(out);
        unsigned with_target = 0, met = 0;
        for (guint i = 0; i < rows->len; i++) {
                Row *r = rows->pdata[i];
                with_target += r->met >= 0;
                met += r->met > 0;
        }
        fprintf(out, "\n%u of %u targets met%s; %d error(s)\n", met, with_target,
                smoke ? " (smoke run: timings are not verdicts)" : "", failures);
        if (MAX(load0, load1) > 1.0)
                fprintf(out, "WARNING: this machine was busy (load average above 1 on 2 cores): the timings are not "
                        "representative; run again on a quiet machine\n");
}

static void json_string(GString *s, const char *v) {
        if (!v) {
                g_string_append(s, "null");
                return;
        }
        g_string_append_c(s, '"');
        for (const char *p = v; *p; p++) {
                if (*p == '"' || *p == '\\')
                        g_string_append_printf(s, "\\%c", *p);
                else if ((unsigned char) *p < 0x20)
                        g_string_append_printf(s, "\\u%04x", *p);
                else
                        g_string_append_c(s, *p);
        }
        g_string_append_c(s, '"');
}

static void json_number(GString *s, double v) {
        if (isnan(v))
                g_string_append(s, "null");
        else
                g_string_append_printf(s, "%.6g", v);
}

gboolean write_json(const char *path, gboolean smoke, double total_s, double load0, double load1) {
        GString *s = g_string_new("{\n");
        g_string_append_printf(s, "  \"mode\": \"%s\",\n  \"duration_s\": %.1f,\n", smoke ? "smoke" : "full", total_s);
        g_string_append_printf(s, "  \"loadavg_start\": %.2f,\n  \"loadavg_end\": %.2f,\n  \"rows\": [\n", load0, load1);
        for (guint i = 0; i < rows->len; i++) {
                Row *r = rows->pdata[i];
                g_string_append(s, "    {\"case\": ");
                json_string(s, r->case_name);
                g_string_append(s, ", \"figure\": ");
                json_string(s, r->figure);
                g_string_append(s, ", \"value\": ");
                json_number(s, r->value);
                g_string_append(s, ", \"baseline\": ");
                json_number(s, r->baseline);
                g_string_append(s, ", \"ratio\": ");
                json_number(s, row_ratio(r));
                g_string_append(s, ", \"unit\": ");
                json_string(s, r->unit);
                g_string_append(s, ", \"target\": ");
                json_string(s, r->target);
                g_string_append(s, ", \"met\": ");
                json_string(s, r->met < 0 ? NULL : r->met ? "yes" : "no");
                g_string_append(s, ", \"note\": ");
                json_string(s, r->note);
                g_string_append_printf(s, "}%s\n", i + 1 < rows->len ? "," : "");
        }
        g_string_append(s, "  ]\n}\n");
        g_autoptr(GError) error = NULL;
        gboolean ok = g_file_set_contents(path, s->str, (gssize) s->len, &error);
        if (!ok)
                g_printerr("pcreset-bench: %s\n", error->message);
        g_string_free(s, TRUE);
        return ok;
}

void fail(const char *case_name, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_printerr("pcreset-bench: %s: ERROR: %s\n", case_name, msg);
        add_row(case_name, "ERROR", "", NAN, NAN, msg, 0, msg);
        failures++;
}

void say(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "pcreset-bench [%6.1f s]: ", (now_ms() - start_ms) / 1000);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}
