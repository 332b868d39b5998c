/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Time units: the daemon counts time in nanoseconds (the probe's clock,
 * capture timestamps), milliseconds (wall clock in JSON, options) and
 * microseconds (drain times). unsigned long long, so that a product of
 * seconds does not overflow 32 bits.
 */
#ifndef UNITS_H
#define UNITS_H

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull
#define US_PER_SEC 1000000ull
#define MS_PER_SEC 1000ull

#endif /* UNITS_H */
