/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text and JSON output of pcresetctl. */

#include <string.h>

#include "output.h"
#include "pcreset1.h"
#include "util.h"

#define ANSI_GREEN  "\033[0;32m"
#define ANSI_YELLOW "\033[0;33m"
#define ANSI_NORMAL "\033[0m"

/* Reasons and messages can carry text other users control (the process name
 * in "vfio group 12 open by pid 4711 (name)"): it must never reach the
 * terminal as control sequences. JSON output is escaped by json-c. */
void print_text(FILE *f, const char *s) {
        for (; s && *s; s++)
                fputc((unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static const char *state_color(bool colors, const char *state) {
        if (!colors)
                return NULL;
        if (streq(state, "owned"))
                return ANSI_GREEN;
        if (streq(state, "busy"))
                return ANSI_YELLOW;
        return NULL;
}

void print_state(bool colors, const char *state, int width) {
        const char *color = state_color(colors, state);
        int pad = width - (int) strlen(state);

        printf("%s%s%s%*s", color ?: "", state, color ? ANSI_NORMAL : "", pad > 0 ? pad : 0, "");
}

const char *scope_bit_label(uint32_t bit) {
        return pcreset_scope_bit_name(bit) ?: "unknown";
}

void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* json-c accepts NULL strings as JSON null, which is what we want for names
 * we cannot give; the helpers keep the builders short. */
void json_add_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

void json_add_int(json_object *o, const char *key, int64_t value) {
        json_object_object_add(o, key, json_object_new_int64(value));
}

json_object *json_string_array(char **l) {
        json_object *a = json_object_new_array();

        for (char **i = l; i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}
