/* libFuzzer: the ws:// URL parser on arbitrary strings. */
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	wr_url u;
	if (wr__url_parse(s, &u) == 0) {
		size_t n = strlen(s);
		if (u.host.data < s || u.host.data + u.host.len > s + n || u.resource.len == 0 ||
		    u.resource.data[0] != '/' || u.port == 0)
			abort();
	}
	free(s);
	return 0;
}
