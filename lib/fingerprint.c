/* fingerprint.c: checksums of catalog descriptions, through zlib. */
#include "fingerprint.h"

#include <string.h>
#include <zlib.h>

uint64_t
fingerprint_text(const char *text)
{
	size_t		 len = strlen(text);
	uLong		 crc = crc32(0L, Z_NULL, 0);
	uLong		 adl = adler32(0L, Z_NULL, 0);
	const Bytef *p = (const Bytef *) text;

	/* zlib takes uInt lengths: feed large texts in pieces. */
	while (len > 0)
	{
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt) len;

		crc = crc32(crc, p, n);
		adl = adler32(adl, p, n);
		p += n;
		len -= n;
	}
	return ((uint64_t) (crc & 0xFFFFFFFFu) << 32) | (uint64_t) (adl & 0xFFFFFFFFu);
}
