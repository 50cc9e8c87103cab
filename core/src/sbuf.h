/*
 * sbuf.h — a bounded text buffer for the core's names and descriptions
 * (register names, model summaries): no stdio in the core, so no snprintf.
 *
 * Invariants: cap >= 1 and p[len] == '\0' after every call; text past the
 * capacity is dropped, never written.
 */
#ifndef BM_SBUF_H
#define BM_SBUF_H

#include <stddef.h>

typedef struct sbuf {
	char *p;
	size_t cap, len;
} sbuf;

static inline void s_put(sbuf *b, const char *s)
{
	while (s && *s && b->len + 1u < b->cap)
		b->p[b->len++] = *s++;
	b->p[b->len] = '\0';
}

static inline void s_uint(sbuf *b, unsigned v)
{
	char t[12];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v && n < 11);
	char o[12];
	for (int i = 0; i < n; i++)
		o[i] = t[n - 1 - i];
	o[n] = '\0';
	s_put(b, o);
}

#endif
