/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers shared by the libFuzzer targets: NUL-terminated copies of the
 * input, scratch directories that go away at exit, and a check macro that
 * aborts (libFuzzer keeps an abort as a crash with its input; an assert()
 * would vanish under -DNDEBUG).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Check messages go to a copy of stderr taken before libFuzzer runs, so they
 * still show when -close_fd_mask=2 silences the daemon's own logging. */
void fuzz_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FUZZ_CHECK(cond, ...)                                                          \
        do {                                                                           \
                if (!(cond)) {                                                         \
                        fuzz_report("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
                        fuzz_report(": " __VA_ARGS__);                                 \
                        fuzz_report("\n");                                             \
                        abort();                                                       \
                }                                                                      \
        } while (0)

/* malloc'ed copy of data with a NUL appended (embedded NULs stay: C string
 * code sees only the part before the first one). Aborts on ENOMEM. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* A fresh directory in $TMPDIR (else /dev/shm, where fsync is free, else
 * /tmp), removed with everything in it at exit. Aborts on failure. */
char *fuzz_make_tmpdir(const char *prefix);

/* Replaces path's contents with data; aborts on failure (the harness's
 * own I/O failing is not a finding). */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* Little-endian reader over the input: running out yields zeros. */
typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
} FuzzInput;

uint8_t fuzz_u8(FuzzInput *in);
uint32_t fuzz_u32(FuzzInput *in);
/* The next n bytes (fewer when the input runs out), as a NUL-terminated
 * malloc'ed string. */
char *fuzz_bytes(FuzzInput *in, size_t n, size_t *ret_len);
