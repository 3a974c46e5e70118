/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The client's one addition to the shared helpers of common/util.h (which
 * it uses for everything else): isempty(), which common/ does not have. */

#include <stdbool.h>

#include "util.h"

static inline bool isempty(const char *s) {
        return !s || !*s;
}
