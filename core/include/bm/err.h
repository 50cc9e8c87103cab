/*
 * err.h — the one error enum of branchmeter.
 *
 * Library errors are negative; 0 is success. Modbus exception codes (issue 5)
 * will use the positive range, as nanoMODBUS does, so one int carries both.
 * Every function documents which of these it returns.
 */
#ifndef BM_ERR_H
#define BM_ERR_H

typedef enum bm_err {
	BM_OK = 0,
	BM_E_INVAL = -1,       /* an argument or configuration value is out of range */
	BM_E_FORMAT = -2,      /* malformed outside input (file, frame, text) */
	BM_E_NOSPACE = -3,     /* a caller-provided buffer is too small */
	BM_E_STATE = -4,       /* not valid in the object's present state */
	BM_E_UNSUPPORTED = -5, /* valid input that this build does not handle */
	BM_E_IO = -6,          /* platform: file, device or socket error */
	BM_E_NOTFOUND = -7,    /* a named thing does not exist */
	BM_E_EOF = -8          /* end of input */
} bm_err;

/* A short English description; never NULL, also for unknown codes. */
const char *bm_strerror(int err);

#endif /* BM_ERR_H */
