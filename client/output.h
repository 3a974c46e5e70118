/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How pcresetctl writes what it learnt: as text for a terminal, or as JSON
 * for a program. Text that other users control (reasons, names) never
 * reaches the terminal as control sequences; colours are used only when
 * the caller says so; JSON strings are escaped by json-c. Nothing here
 * talks to the bus, reports an error or decides an exit code.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Control characters are printed as '?'. */
void print_text(FILE *f, const char *s);
/* A device state word ("owned" green, "busy" yellow when colors), padded
 * with spaces to width (0: no padding). */
void print_state(bool colors, const char *state, int width);
/* A scope bit's name, "unknown" for anything else. */
const char *scope_bit_label(uint32_t bit);

void json_object_putp(json_object **o);
/* Pretty-printed, for the one-shot verbs. */
void print_json(json_object *o);
/* A NULL value is added as JSON null. */
void json_add_string(json_object *o, const char *key, const char *value);
void json_add_int(json_object *o, const char *key, int64_t value);
json_object *json_string_array(char **l);
