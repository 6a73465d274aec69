/*
 * fingerprint.h: a checksum (zlib's CRC-32 and Adler-32 together) of the
 * table's canonical description, to notice DDL between preflight and swap.
 */
#ifndef PGR_FINGERPRINT_H
#define PGR_FINGERPRINT_H

#include <stdint.h>

/* 64 bits: CRC-32 in the high half, Adler-32 in the low half. */
uint64_t fingerprint_text(const char *text);

#endif /* PGR_FINGERPRINT_H */
