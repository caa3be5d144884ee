/* Topic names and patterns (topic.h). */
#include <errno.h>
#include <string.h>

#include "topic.h"

int wr__topic_check(const char *s, size_t n, bool patterns)
{
	if (!s || n == 0 || n > WR_TOPIC_MAX)
		return -EINVAL;
	/* '*' only as the whole pattern or after a final '.'. */
	bool wild = s[n - 1] == '*' && (n == 1 || s[n - 2] == '.');
	if (wild && !patterns)
		return -EINVAL;
	size_t body = wild ? n - 1 : n;
	for (size_t i = 0; i < body; i++)
		if (s[i] == '\0' || s[i] == '*')
			return -EINVAL;
	return wild ? WR_TOPIC_WILD : WR_TOPIC_EXACT;
}

bool wr__topic_match(const char *p, size_t pn, const char *t, size_t tn)
{
	if (p[pn - 1] != '*')
		return pn == tn && memcmp(p, t, tn) == 0;
	size_t prefix = pn - 1; /* "prices." or "" */
	return tn > prefix && memcmp(p, t, prefix) == 0;
}
