/* inilines.c — the line reader of our INI parsers (see inilines.h). */
#include <ctype.h>
#include <string.h>

#include <ini.h>

#include "inilines.h"

void bm_ini_lines_init(bm_ini_lines *l, const char *text)
{
	memset(l, 0, sizeof *l);
	l->pos = text;
}

bm_ini_kind bm_ini_next_line(bm_ini_lines *l, char *str, int num, const char **name, size_t *name_len,
                             int *max_content)
{
	if (*l->pos == '\0')
		return BM_INI_END;
	const char *p = l->pos;
	const char *nl = strchr(p, '\n');
	size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
	size_t content = len;
	while (content > 0 && (p[content - 1] == '\n' || p[content - 1] == '\r'))
		content--;
	l->line++;
	if (max_content)
		*max_content = num < 4 ? 0 : num - 3;
	/* inih needs room for the text, "\r\n" and the NUL. */
	if (num < 4 || content > (size_t)num - 3 || len > (size_t)num - 1)
		return BM_INI_TOO_LONG;
	memcpy(str, p, len);
	str[len] = '\0';
	l->pos += len;

	const char *s = str;
	if (l->line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
		s += 3; /* UTF-8 byte-order mark, skipped by inih too */
	const char *q = s;
	while (*q && isspace((unsigned char)*q))
		q++;
	l->cont = false;
	if (*q == '\0' || strchr(INI_START_COMMENT_PREFIXES, *q))
		return BM_INI_LINE; /* blank or comment */
	if (INI_ALLOW_MULTILINE && l->have_name && q > s) {
		l->cont = true;
		return BM_INI_LINE;
	}
	if (*q == '[') {
		/* inih's find_chars_or_comment(start + 1, "]") */
		const char *e = q + 1;
		bool was_ws = false;
		while (*e && *e != ']' && !(INI_ALLOW_INLINE_COMMENTS && was_ws && strchr(INI_INLINE_COMMENT_PREFIXES, *e))) {
			was_ws = isspace((unsigned char)*e) != 0;
			e++;
		}
		if (*e == ']') {
			*name = q + 1;
			*name_len = (size_t)(e - (q + 1));
			l->have_name = false;
			return BM_INI_SECTION;
		}
		/* else: inih reports the missing ']' as a syntax error */
	}
	return BM_INI_LINE;
}
