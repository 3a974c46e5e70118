/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's own small line files in the state directory (claims,
 * handover), read as if they were not ours: only a regular file, never
 * through a symlink, at most max_lines lines of at most line_max bytes,
 * no NUL bytes, and nothing of their content reaches the log. Comment
 * ('#') and empty lines are skipped. Writing is write_file_atomic().
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Called per line (without its newline); <0 counts the line as bad, a
 * return of 1 stops the read (a full table). */
typedef int (*StateFileLine)(void *userdata, const char *line, unsigned lineno);

/* 0 (a missing file reads as empty), -EBADF for anything but a regular
 * file, -ELOOP for a symlink, -ENOMEM when a callback said so. *ret_bad
 * (may be NULL): lines the callback refused or that broke the rules. */
int state_file_read(const char *path, unsigned max_lines, size_t line_max, StateFileLine cb, void *userdata,
                    unsigned *ret_bad);

/* 0..4294967294, decimal digits only: no sign, no wrap-around. */
int state_file_parse_uid(const char *s, uid_t *ret);
/* Exactly four hex digits. */
int state_file_parse_id(const char *s, uint16_t *ret);
