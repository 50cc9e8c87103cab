/*
 * inilines.h — the line reader our INI parsers give inih (scenario files,
 * the configuration file), so that every error names its line.
 *
 * Purpose: inih's ini_parse_stream() asks a reader callback for one line at
 * a time. Ours hands it exactly one line per call (so inih's line count and
 * ours agree) and classifies the line the way inih is about to (the same
 * tests in the same order as its ini_parse_stream): blank or comment, a
 * continuation of the previous key's value, a "[section]" header, or
 * anything else. A parser can then reject an unknown section on the line
 * that names it, before inih calls its handler.
 *
 * Invariants: reads a NUL-terminated text, never past its NUL; copies into
 * inih's buffer only whole lines that fit with room for "\r\n" and the NUL
 * (inih's own rule), else says the line is too long and copies nothing.
 */
#ifndef BM_PLAT_INILINES_H
#define BM_PLAT_INILINES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bm_ini_lines {
	const char *pos; /* the next unread byte of the text */
	int line;        /* lines handed out so far (the current line's number) */
	bool cont;       /* the current line continues the previous key's value */
	bool have_name;  /* inih holds a key name: the caller sets it when its handler sees a key */
} bm_ini_lines;

typedef enum bm_ini_kind {
	BM_INI_END = 0,  /* no more text */
	BM_INI_TOO_LONG, /* the line does not fit inih's buffer (line is counted) */
	BM_INI_LINE,     /* blank, comment, key, continuation (see cont) or a malformed header */
	BM_INI_SECTION   /* a "[name]" header: *name, *name_len point into str */
} bm_ini_kind;

/* Starts reading `text`. */
void bm_ini_lines_init(bm_ini_lines *l, const char *text);

/* inih's reader step: the next line into str (num bytes, inih's buffer).
 * *max_content (if not NULL) is set to the longest line that fits. */
bm_ini_kind bm_ini_next_line(bm_ini_lines *l, char *str, int num, const char **name, size_t *name_len,
                             int *max_content);

#endif
