/*
 * web.h — the HTTP server of `branchmeter run --web`: the management page's
 * files, accounts and sessions, and the door to the JSON API of
 * docs/api.md. The API itself (what /api/values answers, what a PATCH of
 * /api/settings changes) is the app's, behind bm_web_hooks; this file only
 * decides who may ask.
 *
 * Invariants:
 *  - hooks->api sees only requests that passed every check of docs/api.md
 *    "Accounts and sessions": a valid, unexpired session; for any method but
 *    GET, HEAD and OPTIONS also the session's CSRF token and the admin role;
 *    a body of at most max_body bytes that is application/json. Everything
 *    else is answered here (401, 403, 413, 415, 429, 503) and the hook is
 *    not called.
 *  - /api/login, /api/logout, /api/session and /api/stream are answered
 *    here and never reach the hook.
 *  - Passwords exist only as libsodium crypto_pwhash_str strings (Argon2id)
 *    in memory and in accounts_path (mode 0600, replaced atomically); a
 *    plaintext password is never stored, logged or kept after the call that
 *    needed it.
 *  - Every /api/ answer is JSON with Cache-Control: no-store and
 *    X-Content-Type-Options: nosniff; errors are {"error": "..."}.
 *  - Pages come only from regular files under `assets` (no listings, no
 *    dot-files, no path leaving the folder), with a Content-Security-Policy
 *    that allows only the page's own origin, and X-Frame-Options: DENY.
 */
#ifndef BM_WEB_H
#define BM_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"

typedef enum bm_web_role { BM_WEB_USER = 0, BM_WEB_ADMIN = 1 } bm_web_role;

typedef struct bm_web_req {
	const char *method;  /* "GET", "POST", ... */
	const char *path;    /* after "/api/", URL-decoded, e.g. "values" */
	const char *query;   /* raw query string (not decoded) or "" */
	const char *body;    /* NUL-terminated, "" if none (at most max_body bytes) */
	size_t body_len;
	bm_web_role role;
	const char *account; /* "admin" / "user" */
	const char *client;  /* remote address, e.g. "192.168.1.20" */
} bm_web_req;

typedef struct bm_web_resp {
	int status; /* 200 by default; outside 100..599 is answered as 500 */
	char *body; /* malloc'ed JSON text (the server frees it); NULL = "{}" */
} bm_web_resp;

typedef struct bm_web_hooks {
	/* An authenticated /api/ request other than login/logout/session/
	 * stream: the session is valid, and for a state-changing method (any
	 * but GET, HEAD, OPTIONS) the CSRF token matched and the role is admin
	 * (else the server answered 403 itself). Called from civetweb's worker
	 * threads, several at once: the hook must be thread-safe. NULL: every
	 * such request gets 404. */
	void (*api)(void *user, const bm_web_req *req, bm_web_resp *resp);
	/* The live object pushed on /api/stream (malloc'ed JSON; newlines are
	 * allowed, they become several SSE data lines). Called at most about
	 * once a second, shared by all stream clients (the last answer is
	 * reused for 0.9 s). NULL return: that second sends only a keep-alive
	 * comment. NULL hook: the same, every second. */
	char *(*live)(void *user);
	void *user;
} bm_web_hooks;

typedef struct bm_web_cfg {
	const char *listen;         /* "[HOST:]PORT", HOST an IPv4 address (none: all); PORT 0 = a free port */
	const char *assets;         /* folder served for non-/api/ paths ("/" → index.html); NULL = none (404) */
	const char *accounts_path;  /* file holding the salted hashes (created 0600) */
	const char *admin_password; /* set (and store) this password; NULL: keep the stored one, or generate */
	const char *user_password;  /* set the read-only user's password; NULL: keep the stored one (none: no user) */
	double session_idle_s;      /* 0 = 900; a session unused this long is gone (401) */
	unsigned max_body;          /* 0 = 65536; request bodies above → 413; at most 16 MiB */
	unsigned threads;           /* 0 = 8; civetweb workers for requests, 1..256 (streams get their own) */
} bm_web_cfg;

typedef struct bm_web_counters {
	uint64_t requests;       /* /api/ requests answered (any status) */
	uint64_t pages;          /* non-/api/ requests answered (any status) */
	uint64_t logins_ok;
	uint64_t logins_failed;  /* wrong user or password (401) */
	uint64_t logins_limited; /* refused with 429 (rate limit) */
	uint64_t denied;         /* 401 and 403 on requests other than login */
	uint64_t streams;        /* /api/stream clients now */
	uint64_t streams_refused;/* 503: too many stream clients */
} bm_web_counters;

typedef struct bm_web bm_web;

/* Checks cfg, loads (or creates) the accounts file, applies the given
 * passwords, and starts the server. When the admin account has no stored
 * hash and no admin_password is given, a random password (16 characters from
 * an alphabet without look-alikes such as 0/O and 1/l/I) is generated and
 * stored as a hash; *generated (if not NULL, a buffer of 32 bytes) receives
 * it so the caller prints it once; otherwise generated[0] = 0.
 * The accounts file is written only when something changed (a generated or
 * a new password: a configured password that the stored hash already
 * verifies is kept as it is), and only once the server listens, so a failed
 * start never leaves a generated password nobody has seen.
 * BM_OK; BM_E_INVAL (a bad setting; the message says which); BM_E_FORMAT
 * (the accounts file is malformed; the message names the path and line);
 * BM_E_IO (cannot read or write the accounts file, cannot listen, out of
 * memory; the message says what). */
bm_err bm_web_start(bm_web **out, const bm_web_cfg *cfg, const bm_web_hooks *hooks, char generated[32], char *err,
		    size_t errlen);
/* Ends the streams, waits for every request in progress, stops, frees. NULL
 * is fine. */
void bm_web_stop(bm_web *w);
/* The TCP port listened on (useful with PORT 0), or -1. */
int bm_web_port(const bm_web *w);
/* A copy of the counters (thread-safe). */
void bm_web_get_counters(const bm_web *w, bm_web_counters *out);

#endif /* BM_WEB_H */
