/*
 * msg.h — formatting an error message into a caller's buffer, the one way
 * every platform module does it (a printf into err[0..errlen), nothing when
 * err is NULL or errlen 0, always NUL-terminated, truncated to fit).
 */
#ifndef BM_PLAT_MSG_H
#define BM_PLAT_MSG_H

#include <stddef.h>

void bm_msgf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
