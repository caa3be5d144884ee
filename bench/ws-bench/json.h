/* A small JSON reader for `ws-bench merge`: the whole document into a tree of nodes. Numbers
 * keep their text, so that 64-bit counts read back exactly. */
#ifndef WSB_JSON_H
#define WSB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsb_json_type { WSB_J_NULL, WSB_J_BOOL, WSB_J_NUM, WSB_J_STR, WSB_J_ARR, WSB_J_OBJ };

typedef struct wsb_json {
	enum wsb_json_type type;
	char *key;                 /* member name inside an object */
	char *text;                /* string value, or a number's text */
	bool b;
	struct wsb_json *child;    /* array elements, object members */
	struct wsb_json *next;
} wsb_json;

/* Parses text (len bytes); NULL with a reason in err on bad input or no memory. */
wsb_json *wsb_json_parse(const char *text, size_t len, char *err, size_t errlen);
void wsb_json_free(wsb_json *j);
/* The member called key, or NULL (also when j is no object). */
const wsb_json *wsb_json_get(const wsb_json *j, const char *key);
double wsb_json_num(const wsb_json *j, double def);
/* A non-negative integer, exactly; def when j is none. */
uint64_t wsb_json_u64(const wsb_json *j, uint64_t def);
const char *wsb_json_str(const wsb_json *j, const char *def);
bool wsb_json_bool(const wsb_json *j, bool def);

#endif
