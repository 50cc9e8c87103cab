/* err.c — bm_strerror(): text for the one error enum (see err.h). */
#include "bm/err.h"

const char *bm_strerror(int err)
{
	switch (err) {
	case BM_OK: return "ok";
	case BM_E_INVAL: return "invalid argument or value out of range";
	case BM_E_FORMAT: return "malformed input";
	case BM_E_NOSPACE: return "buffer too small";
	case BM_E_STATE: return "not valid in this state";
	case BM_E_UNSUPPORTED: return "not supported";
	case BM_E_IO: return "input/output error";
	case BM_E_NOTFOUND: return "not found";
	case BM_E_EOF: return "end of input";
	default: return "unknown error";
	}
}
