/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging: to the journal with structured fields when stderr is connected to
 * it (JOURNAL_STREAM, i.e. started by systemd), otherwise one line per record
 * on stderr with the same fields as KEY=value, so tests and foreground runs
 * see exactly what the journal would get. Thread-safe.
 */

#include <stdarg.h>
#include <syslog.h>

void log_open(void);
void log_set_max_level(int prio);
int log_get_max_level(void);

void log_fullv(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void log_full(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

/* Logs with an ERRNO= field and %m meaning err's text; returns err as a
 * negative errno, for "return log_error_errno(r, "Cannot read %s: %m", p)". */
int log_full_errno(int prio, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug_errno(err, ...)   log_full_errno(LOG_DEBUG, err, __VA_ARGS__)
#define log_notice_errno(err, ...)  log_full_errno(LOG_NOTICE, err, __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_WARNING, err, __VA_ARGS__)
#define log_error_errno(err, ...)   log_full_errno(LOG_ERR, err, __VA_ARGS__)

/* One structured record: MESSAGE_ID (32 hex digits), a human MESSAGE and
 * NULL-terminated "KEY=value" fields. */
void log_struct_fields(int prio, const char *message_id, const char *message, char *const *fields);
