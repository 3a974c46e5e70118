/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Health after a reset: every affected device's PCIe link (Current Link
 * Speed and Negotiated Link Width of its Link Status) and AER Uncorrectable
 * Error Status, read from config space before and after the reset, and
 * judged.
 *
 * The link is the device's own Link Status: for an endpoint or an upstream
 * switch port the link above it, for a root or downstream port the link
 * below it (both ends of a link report the same speed and width); any of
 * them is a link the reset retrained. A device without link registers (no
 * PCIe capability: conventional PCI; a root complex integrated endpoint or
 * event collector) or that reports no link (an SR-IOV VF, whose link fields
 * are reserved; a port with nothing below) has nothing to compare: not
 * applicable, never healthy or unhealthy.
 *
 *   link: degraded if slower or narrower than before (down counts);
 *         same; or better (a link that had slowed down to save power).
 *   AER:  the bits set after the reset that were clear before and are not
 *         masked are new errors. Status bits are sticky (a hot reset or an
 *         FLR keeps them), so a bit set before may be years old; a masked
 *         one is an error the admin chose to ignore.
 *
 * Pure, except health_sample(), which reads <syspath>/config.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcreset1.h"

typedef struct HealthSample {
        bool readable;        /* config could be read */
        bool link_regs;       /* a PCIe capability with link registers */
        uint32_t speed_mts;   /* Current Link Speed: 2500 ... 64000 MT/s, 0 none */
        uint8_t width;        /* Negotiated Link Width in lanes, 0 none */
        bool training;        /* Link Training (ports): speed and width are not final */
        bool aer;             /* the AER extended capability is there */
        uint32_t aer_status;  /* Uncorrectable Error Status */
        uint32_t aer_mask;    /* Uncorrectable Error Mask */
} HealthSample;

typedef enum LinkHealth {
        LINK_NOT_APPLICABLE,
        LINK_SAME,
        LINK_BETTER,
        LINK_DEGRADED,
        _LINK_HEALTH_MAX,
} LinkHealth;

typedef enum AerHealth {
        AER_NOT_APPLICABLE,
        AER_CLEAR,
        AER_NEW_ERRORS,
        _AER_HEALTH_MAX,
} AerHealth;

/* The reset's outcome, in rising severity. */
typedef enum HealthOutcome {
        HEALTH_NOT_APPLICABLE,  /* no affected device has a link or AER to check */
        HEALTH_OK,
        HEALTH_NEW_ERRORS,      /* links fine, new uncorrectable errors */
        HEALTH_DEGRADED,        /* a link came back slower or narrower */
        _HEALTH_OUTCOME_MAX,
} HealthOutcome;

typedef struct DeviceHealth {
        char name[PCI_ADDRESS_MAX];
        HealthSample before, after;
        LinkHealth link;
        AerHealth aer;
        uint32_t aer_new;     /* the new unmasked bits */
} DeviceHealth;

typedef struct HealthReport {
        DeviceHealth *devices;  /* one per affected device, NULL if never checked */
        size_t n;
} HealthReport;

/* Parses len bytes of config space (256 without extended space). */
void health_parse(const uint8_t *cfg, size_t len, HealthSample *ret);
/* Reads <syspath>/config and parses it; an unreadable one gives a sample
 * with readable false and the errno. */
int health_sample(const char *syspath, HealthSample *ret);

void health_judge(DeviceHealth *d);
HealthOutcome health_outcome(const HealthReport *r);
/* For a person: what is wrong ("0000:01:00.0: link 2.5 GT/s x1, was 16
 * GT/s x16; ..."), "" when nothing is; NULL on ENOMEM. */
char *health_describe(const HealthReport *r);
/* "2.5 GT/s x1", or "no link" */
char *health_link_format(const HealthSample *s);
/* lspci's names of the set bits ("SDES UnsupReq"); NULL on ENOMEM. */
char *health_aer_format(uint32_t bits);

const char *health_outcome_to_string(HealthOutcome o);
const char *link_health_to_string(LinkHealth l);
const char *aer_health_to_string(AerHealth a);

void health_report_done(HealthReport *r);
