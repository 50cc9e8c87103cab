/*
 * web.c — the HTTP server of `branchmeter run --web` (see web.h and
 * docs/api.md): civetweb moves the bytes, this file decides who may ask.
 *
 * Purpose: one civetweb context whose begin_request callback answers every
 * request: /api/login, /api/logout, /api/session and /api/stream here; any
 * other /api/ path through hooks->api once the session, CSRF and role checks
 * passed; everything else from the assets folder.
 *
 * Invariants:
 *  - civetweb has no document_root, so it never maps a URI to a file on its
 *    own: its CGI, SSI, Lua, PUT/DELETE and directory listing code (compiled
 *    into Debian's libcivetweb) cannot run. Files are sent by page_request
 *    only: a regular file whose realpath() lies inside the assets folder,
 *    reached by a path without dot-segments (so no "..", no ".git").
 *  - Under `lock`: the session table, the login rate-limit table, the
 *    stream count, the counters and the stop flag. Nothing slow runs under
 *    it (no hashing, no socket I/O, no hook).
 *  - Argon2id runs one at a time (`hash_lock`): each call takes 64 MiB
 *    (crypto_pwhash_MEMLIMIT_INTERACTIVE), so eight parallel logins would
 *    take 512 MiB of a meter's memory. The rate limit is checked again
 *    inside it, so parallel guesses from one address get at most
 *    LOGIN_FAILS verifications per block, not one per worker thread.
 *  - The password hashes are set before civetweb starts and never change
 *    while it runs, so the workers read them without a lock.
 *  - A stream holds a civetweb worker for its whole life. civetweb gets
 *    threads + STREAM_MAX workers and at most STREAM_MAX streams run (503
 *    beyond), so streams never take the workers requests need.
 *  - Session ids and CSRF tokens are 32 bytes from randombytes_buf, compared
 *    only with sodium_memcmp; a stream does not refresh its session (the
 *    idle time counts requests, docs/api.md) and ends when it expires.
 *  - bm_web_stop returns within about 0.1 s: civetweb's listener notices
 *    its stop flag only when poll() returns, which without a connection
 *    takes up to 2 s (SOCKET_TIMEOUT_QUANTUM), so a helper connects to
 *    the listener until mg_stop is done.
 *  - Keep-alive is off: a connection carries one request, so an idle
 *    browser connection never pins a worker; civetweb closes the socket
 *    after each answer (request_timeout_ms bounds a slow client).
 */
#define _DEFAULT_SOURCE /* realpath() */
#include "msg.h"
#include "web.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	SESSIONS = 64,       /* a meter has a handful of users; the oldest idle one goes */
	RATE_SLOTS = 64,     /* addresses with recent login failures */
	STREAM_MAX = 16,     /* /api/stream clients at once */
	LOGIN_FAILS = 5,     /* failures within LOGIN_BLOCK_NS that block an address */
	TOKEN_BYTES = 32,
	TOKEN_HEX = 2 * TOKEN_BYTES,
	GEN_LEN = 16,        /* generated admin password: 16 of 55 symbols, ~92 bits */
	ACCOUNTS_MAX = 4096, /* two lines of ~100 bytes; more is not our file */
	THREADS_DEFAULT = 8,
	THREADS_MAX = 256,
	REQUEST_TIMEOUT_MS = 10000
};

#define MAX_BODY_DEFAULT 65536u
#define MAX_BODY_LIMIT (16u * 1024u * 1024u)
#define IDLE_DEFAULT_S 900.0
#define IDLE_MAX_S 1e7                          /* ~4 months: idle_ns far from overflow */
#define LOGIN_BLOCK_NS (60ull * 1000000000ull)  /* 429 this long after LOGIN_FAILS */
#define STREAM_PERIOD_NS 1000000000ull
#define LIVE_REUSE_NS 900000000ull /* < the period, so every client's tick sees a fresh object */
#define POKE_NS 20000000ull        /* bm_web_stop's knock on the listener */

/* No 0/O, 1/l/I: the password is read off a console and typed by hand. */
static const char GEN_ALPHABET[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/* What an unknown user's password is checked against, so that "no such
 * user" takes as long as "wrong password". The hash of 64 random hex
 * characters nobody kept, made with the same parameters as ours
 * (crypto_pwhash_OPSLIMIT/MEMLIMIT_INTERACTIVE of libsodium 1.0.18: t=2,
 * m=64 MiB); a constant rather than one made at start, which would cost
 * every start another 0.1 s (more on a meter's CPU). Sized as the
 * argument crypto_pwhash_str_verify declares. */
static const char DUMMY_HASH[crypto_pwhash_STRBYTES] =
	"$argon2id$v=19$m=65536,t=2,p=1$YBEVh0ZdQKqOS1GuBli3Dg$h3F3aDyxS2ZhFoBG4QclhLdx9P7q8lgfCbrK/B/KBP0";

/* Headers of every /api/ answer (docs/api.md). */
#define API_HEADERS \
	"Cache-Control: no-store\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Connection: close\r\n"

/* Headers of the page's files: the page loads nothing from elsewhere, runs
 * no inline script, and may not be framed (clickjacking of the relay and
 * reset buttons). mg_send_mime_file2 wants lines without the final CRLF. */
#define PAGE_HEADERS \
	"Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; " \
	"script-src 'self'; connect-src 'self'\r\n" \
	"X-Frame-Options: DENY\r\n" \
	"X-Content-Type-Options: nosniff"

typedef struct session {
	bool used;
	bm_web_role role;
	uint64_t last_ns; /* the last request that used it */
	char id[TOKEN_HEX + 1];
	char csrf[TOKEN_HEX + 1];
} session;

typedef struct rate_slot {
	char addr[48];        /* "" = free; as mg_request_info.remote_addr */
	unsigned fails;       /* since first_ns */
	uint64_t first_ns;    /* the first failure counted */
	uint64_t blocked_until;
} rate_slot;

struct bm_web {
	struct mg_context *ctx;
	bm_web_hooks hooks;
	char *assets;       /* realpath of cfg->assets, or NULL */
	size_t assets_len;
	uint64_t idle_ns;
	size_t max_body;
	int port;

	/* Set before the server starts; read-only afterwards. */
	char hash_admin[crypto_pwhash_STRBYTES];
	char hash_user[crypto_pwhash_STRBYTES]; /* "" = no user account */

	pthread_mutex_t hash_lock; /* one Argon2id at a time */

	struct sockaddr_in poke_to; /* where bm_web_stop knocks (see poke_thread) */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* streams wait on it; stop broadcasts */
	bool stopping;
	bool stopped; /* mg_stop returned: the poke thread ends */
	bool started; /* mg_start2 returned: civetweb's messages are dropped */
	char start_log[160]; /* civetweb's first message while starting */
	session sessions[SESSIONS];
	rate_slot rate[RATE_SLOTS];
	unsigned streams;
	bm_web_counters cnt;

	pthread_mutex_t live_lock;
	char *live;        /* the last hooks->live answer */
	bool live_valid;
	uint64_t live_ns;
};



static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count(bm_web *w, uint64_t *field)
{
	pthread_mutex_lock(&w->lock);
	(*field)++;
	pthread_mutex_unlock(&w->lock);
}

static void new_token(char out[TOKEN_HEX + 1])
{
	unsigned char b[TOKEN_BYTES];
	randombytes_buf(b, sizeof b);
	sodium_bin2hex(out, TOKEN_HEX + 1, b, sizeof b);
	sodium_memzero(b, sizeof b);
}

static const char *role_name(bm_web_role r)
{
	return r == BM_WEB_ADMIN ? "admin" : "user";
}

/* ------------------------------------------------------------ settings */

/* "[HOST:]PORT" → civetweb's listening_ports value. Only one IPv4 address
 * or none: civetweb's own syntax (lists, 's'/'r' suffixes, '+') must not
 * slip in through the configuration file, and Debian builds civetweb
 * without IPv6 (mg_check_feature(MG_FEATURES_IPV6) == 0). */
static bm_err listen_parse(const char *s, char *opt, size_t optlen, char *err, size_t errlen)
{
	if (!s || !*s) {
		bm_msgf(err, errlen, "web: listen is empty (want [HOST:]PORT, e.g. 127.0.0.1:8080)");
		return BM_E_INVAL;
	}
	if (s[0] == '[') {
		bm_msgf(err, errlen, "web: listen \"%s\": IPv6 addresses are not supported (civetweb built without IPv6)", s);
		return BM_E_INVAL;
	}
	const char *colon = strrchr(s, ':');
	const char *port = colon ? colon + 1 : s;
	size_t hostlen = colon ? (size_t)(colon - s) : 0;
	size_t plen = strlen(port);
	if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atol(port) > 65535) {
		bm_msgf(err, errlen, "web: listen \"%s\": port must be a number 0..65535 (0 = any free port)", s);
		return BM_E_INVAL;
	}
	if (colon) {
		char host[INET_ADDRSTRLEN];
		struct in_addr a;
		if (hostlen == 0 || hostlen >= sizeof host) {
			bm_msgf(err, errlen, "web: listen \"%s\": host must be an IPv4 address such as 127.0.0.1 or 0.0.0.0", s);
			return BM_E_INVAL;
		}
		memcpy(host, s, hostlen);
		host[hostlen] = '\0';
		if (inet_pton(AF_INET, host, &a) != 1) {
			bm_msgf(err, errlen, "web: listen \"%s\": host must be an IPv4 address such as 127.0.0.1 or 0.0.0.0", s);
			return BM_E_INVAL;
		}
		snprintf(opt, optlen, "%s:%ld", host, atol(port));
	} else {
		snprintf(opt, optlen, "%ld", atol(port));
	}
	return BM_OK;
}

static bm_err cfg_validate(const bm_web_cfg *cfg, char *err, size_t errlen)
{
	char opt[64];
	bm_err e = listen_parse(cfg->listen, opt, sizeof opt, err, errlen);
	if (e != BM_OK)
		return e;
	if (!cfg->accounts_path || !*cfg->accounts_path) {
		bm_msgf(err, errlen, "web: accounts_path is not set");
		return BM_E_INVAL;
	}
	if (cfg->admin_password && !*cfg->admin_password) {
		bm_msgf(err, errlen, "web: admin_password is empty (leave it out to keep the stored one or generate one)");
		return BM_E_INVAL;
	}
	if (cfg->user_password && !*cfg->user_password) {
		bm_msgf(err, errlen, "web: user_password is empty (leave it out to keep the stored one)");
		return BM_E_INVAL;
	}
	/* Written so that NaN fails too. */
	if (!(cfg->session_idle_s >= 0.0 && cfg->session_idle_s <= IDLE_MAX_S)) {
		bm_msgf(err, errlen, "web: session_idle_s %g out of range 0..%g (0 = %g)", cfg->session_idle_s, IDLE_MAX_S,
			IDLE_DEFAULT_S);
		return BM_E_INVAL;
	}
	if (cfg->max_body > MAX_BODY_LIMIT) {
		bm_msgf(err, errlen, "web: max_body %u out of range 0..%u (0 = %u)", cfg->max_body, MAX_BODY_LIMIT,
			MAX_BODY_DEFAULT);
		return BM_E_INVAL;
	}
	if (cfg->threads > THREADS_MAX) {
		bm_msgf(err, errlen, "web: threads %u out of range 0..%d (0 = %d)", cfg->threads, THREADS_MAX,
			THREADS_DEFAULT);
		return BM_E_INVAL;
	}
	if (cfg->assets) {
		struct stat st;
		if (stat(cfg->assets, &st) != 0) {
			bm_msgf(err, errlen, "web: assets folder %s: %s", cfg->assets, strerror(errno));
			return BM_E_INVAL;
		}
		if (!S_ISDIR(st.st_mode)) {
			bm_msgf(err, errlen, "web: assets %s is not a folder", cfg->assets);
			return BM_E_INVAL;
		}
	}
	return BM_OK;
}

/* ------------------------------------------------------------ accounts */

/* A line's hash: what crypto_pwhash_str makes (Argon2id; Argon2i is what
 * libsodium also verifies), printable, no blanks, shorter than STRBYTES. */
static bool hash_plausible(const char *h, size_t n)
{
	if (n == 0 || n >= crypto_pwhash_STRBYTES)
		return false;
	if (!(n > 10 && memcmp(h, "$argon2id$", 10) == 0) && !(n > 9 && memcmp(h, "$argon2i$", 9) == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if (h[i] <= ' ' || h[i] > '~')
			return false;
	return true;
}

/* Reads "user:<hash>" lines (blank lines allowed). A missing file is no
 * account at all. admin/user receive the hashes ("" if absent). */
static bm_err accounts_load(const char *path, char admin[crypto_pwhash_STRBYTES], char user[crypto_pwhash_STRBYTES],
			    char *err, size_t errlen)
{
	admin[0] = user[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return BM_OK;
		bm_msgf(err, errlen, "web: cannot open accounts file %s: %s", path, strerror(errno));
		return BM_E_IO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		bm_msgf(err, errlen, "web: accounts file %s is not a regular file", path);
		close(fd);
		return BM_E_IO;
	}
	if (st.st_size > ACCOUNTS_MAX) {
		bm_msgf(err, errlen, "web: accounts file %s: %lld bytes, more than an accounts file has (%d)", path,
			(long long)st.st_size, ACCOUNTS_MAX);
		close(fd);
		return BM_E_FORMAT;
	}
	if (st.st_mode & 077)
		/* Salted Argon2id hashes are slow to attack, not impossible. */
		fprintf(stderr, "web: note: accounts file %s is readable by others (mode %03o); chmod 600 it\n", path,
			(unsigned)(st.st_mode & 0777));
	char buf[ACCOUNTS_MAX + 1];
	size_t n = 0;
	ssize_t r = 0;
	while (n < ACCOUNTS_MAX && ((r = read(fd, buf + n, ACCOUNTS_MAX - n)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	int rerr = n < ACCOUNTS_MAX && r < 0 ? errno : 0;
	close(fd);
	if (rerr) {
		bm_msgf(err, errlen, "web: cannot read accounts file %s: %s", path, strerror(rerr));
		return BM_E_IO;
	}
	buf[n] = '\0';

	bm_err e = BM_OK;
	if (memchr(buf, '\0', n)) {
		bm_msgf(err, errlen, "web: %s: contains a NUL byte (not a text file)", path);
		e = BM_E_FORMAT;
	}
	int lineno = 0;
	for (char *line = buf; e == BM_OK && line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		if (*line) {
			char *colon = strchr(line, ':');
			char *dst = NULL;
			if (colon && colon - line == 5 && memcmp(line, "admin", 5) == 0)
				dst = admin;
			else if (colon && colon - line == 4 && memcmp(line, "user", 4) == 0)
				dst = user;
			if (!dst) {
				bm_msgf(err, errlen, "web: %s:%d: want \"admin:<hash>\" or \"user:<hash>\"", path, lineno);
				e = BM_E_FORMAT;
			} else if (dst[0]) {
				bm_msgf(err, errlen, "web: %s:%d: a second line for account \"%.*s\"", path, lineno,
					(int)(colon - line), line);
				e = BM_E_FORMAT;
			} else if (!hash_plausible(colon + 1, strlen(colon + 1))) {
				bm_msgf(err, errlen, "web: %s:%d: the hash is not a libsodium crypto_pwhash_str string", path,
					lineno);
				e = BM_E_FORMAT;
			} else {
				memcpy(dst, colon + 1, strlen(colon + 1) + 1);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	sodium_memzero(buf, sizeof buf);
	if (e != BM_OK)
		admin[0] = user[0] = '\0';
	return e;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Replaces the file atomically: a power cut leaves the old file or the new
 * one, never half of one (temp file, fsync, rename, fsync of the folder). */
static bm_err accounts_store(const char *path, const char *admin, const char *user, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	char text[2 * crypto_pwhash_STRBYTES + 16];
	int tn = snprintf(text, sizeof text, "admin:%s\n%s%s%s", admin, user[0] ? "user:" : "", user, user[0] ? "\n" : "");
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		bm_msgf(err, errlen, "web: accounts path %s is too long", path);
		return BM_E_INVAL;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		bm_msgf(err, errlen, "web: cannot create %s: %s", tmp, strerror(errno));
		return BM_E_IO;
	}
	/* O_CREAT's mode does not apply to a leftover temp file. */
	bool ok = fchmod(fd, 0600) == 0 && write_all(fd, text, (size_t)tn) && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			saved = errno;
		bm_msgf(err, errlen, "web: cannot write accounts file %s: %s", path, strerror(saved));
		unlink(tmp);
		return BM_E_IO;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* the rename itself; some filesystems refuse, the file is written */
		close(dfd);
	}
	return BM_OK;
}

static bm_err hash_password(char out[crypto_pwhash_STRBYTES], const char *pw, char *err, size_t errlen)
{
	if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		bm_msgf(err, errlen, "web: crypto_pwhash_str failed (out of memory? it needs %u MiB)",
			(unsigned)(crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20));
		return BM_E_IO;
	}
	return BM_OK;
}

/* A configured password: the stored hash if it verifies already (no new
 * salt, no write on every start), else a new hash. */
static bm_err apply_password(char hash[crypto_pwhash_STRBYTES], const char *pw, bool *dirty, char *err, size_t errlen)
{
	if (hash[0] && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0)
		return BM_OK;
	*dirty = true;
	return hash_password(hash, pw, err, errlen);
}

static void generate_password(char out[GEN_LEN + 1])
{
	for (int i = 0; i < GEN_LEN; i++)
		out[i] = GEN_ALPHABET[randombytes_uniform((uint32_t)(sizeof GEN_ALPHABET - 1))];
	out[GEN_LEN] = '\0';
}

/* ------------------------------------------------------------ sessions */

/* Under lock, with `now` read under it too: a `now` from before the lock
 * can be older than a last_ns another thread just wrote, and the unsigned
 * difference would then expire a session in use. */
static bool session_expired(const bm_web *w, const session *s, uint64_t now)
{
	return now > s->last_ns && now - s->last_ns > w->idle_ns;
}

static void session_clear(session *s)
{
	sodium_memzero(s, sizeof *s);
}

/* The session of a cookie value; touch: it counts as a request. Copies it
 * to *out (may be NULL). Expired ones are cleared on the way. */
static bool session_find(bm_web *w, const char *id, bool touch, session *out)
{
	if (!id || strlen(id) != TOKEN_HEX)
		return false;
	bool found = false;
	pthread_mutex_lock(&w->lock);
	uint64_t now = now_ns();
	for (int i = 0; i < SESSIONS; i++) {
		session *s = &w->sessions[i];
		if (!s->used)
			continue;
		if (session_expired(w, s, now)) {
			session_clear(s);
			continue;
		}
		/* Every live slot is compared, in constant time each. */
		if (sodium_memcmp(s->id, id, TOKEN_HEX) == 0) {
			if (touch)
				s->last_ns = now;
			if (out)
				*out = *s;
			found = true;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

static void session_end(bm_web *w, const char *id)
{
	if (!id || strlen(id) != TOKEN_HEX)
		return;
	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < SESSIONS; i++)
		if (w->sessions[i].used && sodium_memcmp(w->sessions[i].id, id, TOKEN_HEX) == 0)
			session_clear(&w->sessions[i]);
	pthread_mutex_unlock(&w->lock);
}

/* A free slot, else the one idle longest (expired ones are the longest
 * idle). */
static void session_new(bm_web *w, bm_web_role role, session *out)
{
	session s = { .used = true, .role = role };
	new_token(s.id);
	new_token(s.csrf);
	pthread_mutex_lock(&w->lock);
	s.last_ns = now_ns();
	int pick = 0;
	for (int i = 0; i < SESSIONS; i++) {
		if (!w->sessions[i].used) {
			pick = i;
			break;
		}
		if (w->sessions[i].last_ns < w->sessions[pick].last_ns)
			pick = i;
	}
	w->sessions[pick] = s;
	pthread_mutex_unlock(&w->lock);
	*out = s;
	sodium_memzero(&s, sizeof s);
}

/* ------------------------------------------------------------ login rate limit */

/* Under lock. The slot of addr, or NULL. */
static rate_slot *rate_find(bm_web *w, const char *addr)
{
	for (int i = 0; i < RATE_SLOTS; i++)
		if (w->rate[i].addr[0] && strcmp(w->rate[i].addr, addr) == 0)
			return &w->rate[i];
	return NULL;
}

static bool rate_blocked(bm_web *w, const char *addr)
{
	pthread_mutex_lock(&w->lock);
	uint64_t now = now_ns();
	rate_slot *r = rate_find(w, addr);
	bool blocked = r && r->blocked_until > now;
	pthread_mutex_unlock(&w->lock);
	return blocked;
}

/* Failures count within LOGIN_BLOCK_NS of the first; the LOGIN_FAILS-th
 * blocks the address for LOGIN_BLOCK_NS. A successful login does not
 * reset the count: with the read-only user's password one could otherwise
 * log in after every four guesses at the admin's and guess without limit.
 * A full table gives up the slot whose first failure is oldest (a blocked
 * one last). */
static void rate_fail(bm_web *w, const char *addr)
{
	pthread_mutex_lock(&w->lock);
	uint64_t now = now_ns(); /* under the lock: see session_expired */
	rate_slot *r = rate_find(w, addr);
	if (!r) {
		for (int i = 0; i < RATE_SLOTS; i++) {
			rate_slot *c = &w->rate[i];
			if (!c->addr[0]) {
				r = c;
				break;
			}
			bool c_blocked = c->blocked_until > now;
			bool r_blocked = r && r->blocked_until > now;
			if (!r || (r_blocked && !c_blocked) || (r_blocked == c_blocked && c->first_ns < r->first_ns))
				r = c;
		}
		memset(r, 0, sizeof *r);
		snprintf(r->addr, sizeof r->addr, "%s", addr);
	}
	if (r->fails == 0 || now - r->first_ns > LOGIN_BLOCK_NS) {
		r->fails = 0;
		r->first_ns = now;
	}
	if (++r->fails >= LOGIN_FAILS) {
		r->blocked_until = now + LOGIN_BLOCK_NS;
		r->fails = 0;
	}
	pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------ answers */

/* Status line, headers and body in one write: with keep-alive off the
 * socket closes right after, and one segment is both the fastest and the
 * simplest answer. extra: more header lines, each ending in CRLF, or "". */
static int send_raw(struct mg_connection *conn, bool head, int status, const char *ctype, const char *headers,
		    const char *extra, const char *body, size_t blen)
{
	const char *text = mg_get_response_code_text(conn, status);
	int hn = snprintf(NULL, 0, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
			  text, ctype, blen, headers, extra);
	if (hn < 0)
		return status;
	size_t total = (size_t)hn + (head ? 0 : blen);
	char *out = malloc(total + 1);
	if (!out)
		return status; /* civetweb closes the connection: the client sees no answer, not a wrong one */
	snprintf(out, (size_t)hn + 1, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
		 text, ctype, blen, headers, extra);
	if (!head && blen)
		memcpy(out + hn, body, blen);
	(void)mg_write(conn, out, total);
	free(out);
	return status;
}

static int send_json(struct mg_connection *conn, bool head, int status, const char *extra, const char *body)
{
	return send_raw(conn, head, status, "application/json", API_HEADERS, extra, body, strlen(body));
}

/* msg: our own ASCII text; quotes and backslashes are escaped. */
static int send_error(struct mg_connection *conn, bool head, int status, const char *extra, const char *msg)
{
	char body[256];
	size_t n = (size_t)snprintf(body, sizeof body, "{\"error\":\"");
	for (const char *c = msg; *c && n < sizeof body - 8; c++) {
		if (*c == '"' || *c == '\\')
			body[n++] = '\\';
		body[n++] = *c;
	}
	snprintf(body + n, sizeof body - n, "\"}");
	return send_json(conn, head, status, extra, body);
}

/* An error naming a field that came from the client: cJSON escapes it. */
static int send_field_error(struct mg_connection *conn, bool head, const char *msg, const char *field)
{
	cJSON *o = cJSON_CreateObject();
	char *txt = NULL;
	if (o && cJSON_AddStringToObject(o, "error", msg) && cJSON_AddStringToObject(o, "field", field))
		txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = txt ? send_json(conn, head, 400, "", txt) : send_error(conn, head, 400, "", msg);
	free(txt);
	return rc;
}

static int send_page_error(struct mg_connection *conn, bool head, int status, const char *extra)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%d %s\n", status, mg_get_response_code_text(conn, status));
	char headers[512];
	snprintf(headers, sizeof headers, "%s\r\nCache-Control: no-store\r\nConnection: close\r\n%s", PAGE_HEADERS,
		 extra);
	return send_raw(conn, head, status, "text/plain; charset=utf-8", headers, "", body, (size_t)n);
}

/* ------------------------------------------------------------ requests */

static bool is_head(const char *m)
{
	return strcmp(m, "HEAD") == 0;
}

/* Only these leave the meter as it was; every other method (also WebDAV
 * ones civetweb accepts) is treated as a change: CSRF token and admin. */
static bool is_safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* A path segment starting with '.' ("..", ".", ".git") or a backslash:
 * never a file of the page or an API name, often an attack. */
static bool bad_path(const char *p)
{
	if (strchr(p, '\\'))
		return true;
	for (const char *s = p; (s = strchr(s, '/')) != NULL; s++)
		if (s[1] == '.')
			return true;
	return false;
}

/* "application/json", any case, optionally followed by parameters
 * ("; charset=utf-8"). */
static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof want - 1) != 0)
		return false;
	ct += sizeof want - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Reads the body into *out (malloc'ed, NUL-terminated). Returns 0, or the
 * HTTP status that answers the request: 413 (over max_body: decided from
 * Content-Length before a byte is read), 415 (not JSON), 400 (cut short,
 * or a transfer coding other than chunked). */
static int read_body(bm_web *w, struct mg_connection *conn, const struct mg_request_info *ri, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	const char *te = mg_get_header(conn, "Transfer-Encoding");
	bool chunked = te && strcasecmp(te, "chunked") == 0;
	if (te && !chunked)
		return 400;
	long long cl = ri->content_length;
	if (cl > (long long)w->max_body)
		return 413;
	/* Neither length nor chunks: no body. Reading would wait for a close
	 * that an HTTP/1.1 client never sends. */
	if (!chunked && cl <= 0)
		return 0;
	if (!is_json_type(mg_get_header(conn, "Content-Type")))
		return 415;
	size_t want = chunked ? w->max_body + 1 : (size_t)cl;
	char *buf = malloc(want + 1);
	if (!buf)
		return 503;
	size_t n = 0;
	while (n < want) {
		int r = mg_read(conn, buf + n, want - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (n > w->max_body) {
		free(buf);
		return 413;
	}
	if (!chunked && n < (size_t)cl) {
		free(buf);
		return 400;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void get_cookie(struct mg_connection *conn, char id[TOKEN_HEX + 2])
{
	id[0] = '\0';
	const char *c = mg_get_header(conn, "Cookie");
	if (!c || mg_get_cookie(c, "bm_session", id, TOKEN_HEX + 2) != TOKEN_HEX)
		id[0] = '\0';
}

/* The login/session answer: {"user", "role", "csrf"}; plus the cookie when
 * a session begins. */
static int send_session(struct mg_connection *conn, bool head, const session *s, bool set_cookie)
{
	char body[160];
	char extra[160] = "";
	snprintf(body, sizeof body, "{\"user\":\"%s\",\"role\":\"%s\",\"csrf\":\"%s\"}", role_name(s->role),
		 role_name(s->role), s->csrf);
	if (set_cookie)
		snprintf(extra, sizeof extra, "Set-Cookie: bm_session=%s; HttpOnly; SameSite=Strict; Path=/\r\n", s->id);
	return send_json(conn, head, 200, extra, body);
}

static int do_login(bm_web *w, struct mg_connection *conn, const struct mg_request_info *ri, const char *body,
		    size_t blen)
{
	static const char retry[] = "Retry-After: 60\r\n";
	const char *addr = ri->remote_addr;

	if (strcmp(ri->request_method, "POST") != 0)
		return send_error(conn, is_head(ri->request_method), 405, "Allow: POST\r\n", "method not allowed");
	if (rate_blocked(w, addr)) {
		count(w, &w->cnt.logins_limited);
		return send_error(conn, false, 429, retry, "too many failed logins; try again later");
	}
	const char *end = NULL;
	cJSON *root = blen ? cJSON_ParseWithLengthOpts(body, blen, &end, 0) : NULL;
	if (root && end)
		while (end < body + blen && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
	if (!root || !cJSON_IsObject(root) || end != body + blen) {
		cJSON_Delete(root);
		return send_error(conn, false, 400, "", "login wants a JSON object {\"user\": ..., \"password\": ...}");
	}
	const cJSON *u = NULL, *p = NULL, *it;
	int rc = 0;
	cJSON_ArrayForEach(it, root)
	{
		const char *k = it->string ? it->string : "";
		bool is_user = strcmp(k, "user") == 0, is_pw = strcmp(k, "password") == 0;
		if ((is_user && u) || (is_pw && p)) {
			rc = send_field_error(conn, false, "repeated field", k);
			break;
		}
		if (!is_user && !is_pw) {
			rc = send_field_error(conn, false, "unknown field", k);
			break;
		}
		if (is_user)
			u = it;
		else
			p = it;
	}
	if (!rc && !cJSON_IsString(u))
		rc = send_field_error(conn, false, "user must be a string", "user");
	if (!rc && !cJSON_IsString(p))
		rc = send_field_error(conn, false, "password must be a string", "password");
	if (rc) {
		if (cJSON_IsString(p))
			sodium_memzero(p->valuestring, strlen(p->valuestring));
		cJSON_Delete(root);
		return rc;
	}

	bm_web_role role = BM_WEB_USER;
	const char *hash = DUMMY_HASH;
	bool known = false;
	if (strcmp(u->valuestring, "admin") == 0) {
		role = BM_WEB_ADMIN;
		hash = w->hash_admin;
		known = true;
	} else if (strcmp(u->valuestring, "user") == 0 && w->hash_user[0]) {
		hash = w->hash_user;
		known = true;
	}
	bool ok = false, limited = false;
	pthread_mutex_lock(&w->hash_lock);
	/* Again: parallel guesses queued here while the earlier ones failed. */
	limited = rate_blocked(w, addr);
	if (!limited)
		ok = crypto_pwhash_str_verify(hash, p->valuestring, strlen(p->valuestring)) == 0 && known;
	pthread_mutex_unlock(&w->hash_lock);
	sodium_memzero(p->valuestring, strlen(p->valuestring));
	cJSON_Delete(root);

	if (limited) {
		count(w, &w->cnt.logins_limited);
		return send_error(conn, false, 429, retry, "too many failed logins; try again later");
	}
	if (!ok) {
		rate_fail(w, addr);
		count(w, &w->cnt.logins_failed);
		return send_error(conn, false, 401, "", "wrong user or password");
	}
	count(w, &w->cnt.logins_ok);
	/* A login from a browser that still has a session ends the old one. */
	char old[TOKEN_HEX + 2];
	get_cookie(conn, old);
	session_end(w, old);
	session s;
	session_new(w, role, &s);
	rc = send_session(conn, false, &s, true);
	sodium_memzero(&s, sizeof s);
	return rc;
}

/* SSE lines for one event: "data: " before each line of the JSON (SSE
 * ends a field at CR, LF or CRLF, so a pretty-printed object would
 * otherwise break the stream). */
static char *sse_event(const char *json, size_t *len)
{
	size_t lines = 1;
	for (const char *c = json; *c; c++)
		if (*c == '\n' || *c == '\r')
			lines++;
	size_t cap = strlen(json) + lines * 7 + 16;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = (size_t)snprintf(out, cap, "event: live\ndata: ");
	for (const char *c = json; *c; c++) {
		if (*c == '\r' && c[1] == '\n')
			continue;
		if (*c == '\n' || *c == '\r') {
			memcpy(out + n, "\ndata: ", 7);
			n += 7;
		} else {
			out[n++] = *c;
		}
	}
	out[n++] = '\n';
	out[n++] = '\n';
	*len = n;
	return out;
}

/* The live object, fresh at most LIVE_REUSE_NS ago; a copy for the caller.
 * One hook call per second serves every stream client. */
static char *live_get(bm_web *w)
{
	char *copy = NULL;
	pthread_mutex_lock(&w->live_lock);
	uint64_t now = now_ns();
	if (!w->live_valid || now - w->live_ns >= LIVE_REUSE_NS) {
		free(w->live);
		w->live = w->hooks.live ? w->hooks.live(w->hooks.user) : NULL;
		w->live_ns = now;
		w->live_valid = true;
	}
	if (w->live)
		copy = strdup(w->live);
	pthread_mutex_unlock(&w->live_lock);
	return copy;
}

static int do_stream(bm_web *w, struct mg_connection *conn, const char *method, const session *s)
{
	if (strcmp(method, "GET") != 0 && !is_head(method))
		return send_error(conn, false, 405, "Allow: GET\r\n", "method not allowed");
	pthread_mutex_lock(&w->lock);
	bool full = w->streams >= STREAM_MAX;
	if (full)
		w->cnt.streams_refused++;
	else
		w->cnt.streams = ++w->streams;
	pthread_mutex_unlock(&w->lock);
	if (full)
		return send_error(conn, is_head(method), 503, "Retry-After: 5\r\n", "too many stream clients");

	static const char hdr[] = "HTTP/1.1 200 OK\r\n"
				  "Content-Type: text/event-stream\r\n"
				  "Cache-Control: no-store\r\n"
				  "X-Content-Type-Options: nosniff\r\n"
				  "Connection: close\r\n\r\n";
	bool alive = mg_write(conn, hdr, sizeof hdr - 1) == (int)(sizeof hdr - 1) && !is_head(method);
	while (alive) {
		if (!session_find(w, s->id, false, NULL))
			break; /* logged out, expired or evicted */
		char *json = live_get(w);
		size_t n = 0;
		char *ev = json ? sse_event(json, &n) : NULL;
		free(json);
		if (ev) {
			alive = mg_write(conn, ev, n) == (int)n;
			free(ev);
		} else {
			/* A comment line: keeps proxies from timing out and finds
			 * a departed client. */
			alive = mg_write(conn, ":\n\n", 3) == 3;
		}
		if (!alive)
			break;

		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(STREAM_PERIOD_NS / 1000000000ull);
		pthread_mutex_lock(&w->lock);
		while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &ts) != ETIMEDOUT)
			;
		alive = !w->stopping;
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_lock(&w->lock);
	w->cnt.streams = --w->streams;
	pthread_mutex_unlock(&w->lock);
	return 200;
}

static int call_hook(bm_web *w, struct mg_connection *conn, const struct mg_request_info *ri, const char *path,
		     const char *body, size_t blen, const session *s)
{
	bool head = is_head(ri->request_method);
	if (!w->hooks.api)
		return send_error(conn, head, 404, "", "no such API");
	bm_web_req req = {
		.method = ri->request_method,
		.path = path,
		.query = ri->query_string ? ri->query_string : "",
		.body = body ? body : "",
		.body_len = blen,
		.role = s->role,
		.account = role_name(s->role),
		.client = ri->remote_addr,
	};
	bm_web_resp resp = { .status = 200, .body = NULL };
	w->hooks.api(w->hooks.user, &req, &resp);
	int rc;
	if (resp.status < 100 || resp.status > 599)
		rc = send_error(conn, head, 500, "", "internal error: the handler gave no valid status");
	else
		rc = send_json(conn, head, resp.status, "", resp.body ? resp.body : "{}");
	free(resp.body);
	return rc;
}

static int api_request(bm_web *w, struct mg_connection *conn, const struct mg_request_info *ri, const char *uri)
{
	const char *method = ri->request_method;
	bool head = is_head(method);
	const char *path = uri[4] == '/' ? uri + 5 : "";
	count(w, &w->cnt.requests);

	char *body = NULL;
	size_t blen = 0;
	int st = read_body(w, conn, ri, &body, &blen);
	if (st == 413)
		return send_error(conn, head, 413, "", "body too large");
	if (st == 415)
		return send_error(conn, head, 415, "", "body must be JSON (Content-Type: application/json)");
	if (st == 503)
		return send_error(conn, head, 503, "", "out of memory");
	if (st != 0)
		return send_error(conn, head, 400, "", "incomplete body or unsupported Transfer-Encoding");

	int rc;
	if (strcmp(path, "login") == 0) {
		rc = do_login(w, conn, ri, body, blen);
		if (body)
			sodium_memzero(body, blen); /* the password */
		free(body);
		return rc;
	}

	char id[TOKEN_HEX + 2];
	session s;
	get_cookie(conn, id);
	if (!session_find(w, id, true, &s)) {
		count(w, &w->cnt.denied);
		rc = send_error(conn, head, 401, "", "not logged in or session expired");
		goto done;
	}
	bool logout = strcmp(path, "logout") == 0;
	if (!is_safe_method(method)) {
		const char *tok = mg_get_header(conn, "X-CSRF-Token");
		if (!tok || strlen(tok) != TOKEN_HEX || sodium_memcmp(tok, s.csrf, TOKEN_HEX) != 0) {
			count(w, &w->cnt.denied);
			rc = send_error(conn, head, 403, "", "missing or wrong CSRF token");
			goto done;
		}
		if (s.role != BM_WEB_ADMIN && !logout) {
			count(w, &w->cnt.denied);
			rc = send_error(conn, head, 403, "", "read-only account");
			goto done;
		}
	}
	if (logout) {
		if (strcmp(method, "POST") != 0) {
			rc = send_error(conn, head, 405, "Allow: POST\r\n", "method not allowed");
		} else {
			session_end(w, s.id);
			rc = send_json(conn, false, 200,
				       "Set-Cookie: bm_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0\r\n", "{}");
		}
	} else if (strcmp(path, "session") == 0) {
		if (strcmp(method, "GET") != 0 && !head)
			rc = send_error(conn, false, 405, "Allow: GET\r\n", "method not allowed");
		else
			rc = send_session(conn, head, &s, false);
	} else if (strcmp(path, "stream") == 0) {
		rc = do_stream(w, conn, method, &s);
	} else {
		rc = call_hook(w, conn, ri, path, body, blen, &s);
	}
done:
	sodium_memzero(&s, sizeof s);
	free(body);
	return rc;
}

static int page_request(bm_web *w, struct mg_connection *conn, const char *method, const char *uri)
{
	bool head = is_head(method);
	count(w, &w->cnt.pages);
	if (strcmp(method, "GET") != 0 && !head)
		return send_page_error(conn, false, 405, "Allow: GET, HEAD\r\n");
	if (!w->assets)
		return send_page_error(conn, head, 404, "");

	size_t ulen = strlen(uri);
	bool dir = uri[ulen - 1] == '/';
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s%s%s", w->assets, uri, dir ? "index.html" : "") >= (int)sizeof path)
		return send_page_error(conn, head, 404, "");
	/* realpath: a symbolic link that leads out of the folder is refused
	 * like "..". */
	char *real = realpath(path, NULL);
	struct stat st;
	if (!real || strncmp(real, w->assets, w->assets_len) != 0 || real[w->assets_len] != '/' ||
	    stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		free(real);
		return send_page_error(conn, head, 404, "");
	}
	mg_send_mime_file2(conn, real, NULL, PAGE_HEADERS);
	free(real);
	return 200;
}

/* Every request that civetweb parsed comes here (a malformed one civetweb
 * answers 400 itself); returning non-zero tells civetweb it was answered. */
static int on_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	bm_web *w = ri->user_data;
	const char *uri = ri->local_uri;
	const char *raw = ri->local_uri_raw;
	bool head = is_head(ri->request_method);

	/* local_uri is civetweb's cleaned form ("/a/../b" → "/b"); the raw
	 * (decoded) one shows whether the client tried to climb at all. */
	if (!uri || uri[0] != '/' || !raw || raw[0] != '/') {
		count(w, &w->cnt.pages);
		return send_page_error(conn, head, 400, "");
	}
	bool api = strncmp(uri, "/api/", 5) == 0 || strcmp(uri, "/api") == 0;
	if (bad_path(raw)) {
		if (api) {
			count(w, &w->cnt.requests);
			return send_error(conn, head, 404, "", "no such API");
		}
		count(w, &w->cnt.pages);
		return send_page_error(conn, head, 404, "");
	}
	return api ? api_request(w, conn, ri, uri) : page_request(w, conn, ri->request_method, uri);
}

/* civetweb's own messages. While starting, the first one says why (e.g.
 * "cannot bind to 127.0.0.1:80: 13 (Permission denied)", where mg_start2
 * itself only says "Failed to setup server ports"), so it is kept for the
 * error message. Afterwards they are about bad requests from the network:
 * the counters and status codes tell that story, and stderr is the
 * meter's console, not a log for strangers to fill. */
static int on_log(const struct mg_connection *conn, const char *message)
{
	const struct mg_context *ctx = conn ? mg_get_context(conn) : NULL;
	bm_web *w = ctx ? mg_get_user_data(ctx) : NULL;
	if (w && message) {
		pthread_mutex_lock(&w->lock);
		if (!w->started && !w->start_log[0])
			snprintf(w->start_log, sizeof w->start_log, "%s", message);
		pthread_mutex_unlock(&w->lock);
	}
	return 1;
}

/* ------------------------------------------------------------ API */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static unsigned lib_ok;

/* mg_init_library is not thread-safe and civetweb never needs it undone
 * while the process runs. It returns the features it set up, 0 on failure,
 * so ask for one that needs nothing (files) rather than none; TLS would
 * set up OpenSSL, which we do not use. */
static void lib_init(void)
{
	lib_ok = mg_init_library(MG_FEATURES_FILES);
}

static void web_free(bm_web *w)
{
	pthread_mutex_destroy(&w->hash_lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->live_lock);
	free(w->live);
	free(w->assets);
	sodium_memzero(w, sizeof *w);
	free(w);
}

bm_err bm_web_start(bm_web **out, const bm_web_cfg *cfg, const bm_web_hooks *hooks, char generated[32], char *err,
		    size_t errlen)
{
	if (generated)
		generated[0] = '\0';
	if (out)
		*out = NULL;
	if (!out || !cfg || !hooks) {
		bm_msgf(err, errlen, "web: NULL argument (out, cfg or hooks)");
		return BM_E_INVAL;
	}
	bm_err e = cfg_validate(cfg, err, errlen);
	if (e != BM_OK)
		return e;
	char listen[64];
	(void)listen_parse(cfg->listen, listen, sizeof listen, NULL, 0); /* validated */
	if (sodium_init() < 0) {
		bm_msgf(err, errlen, "web: libsodium failed to initialise");
		return BM_E_IO;
	}
	pthread_once(&lib_once, lib_init);
	if (!lib_ok) {
		bm_msgf(err, errlen, "web: civetweb failed to initialise (mg_init_library)");
		return BM_E_IO;
	}

	bm_web *w = calloc(1, sizeof *w);
	if (!w) {
		bm_msgf(err, errlen, "web: out of memory");
		return BM_E_IO;
	}
	w->hooks = *hooks;
	w->idle_ns = (uint64_t)((cfg->session_idle_s > 0.0 ? cfg->session_idle_s : IDLE_DEFAULT_S) * 1e9);
	w->max_body = cfg->max_body ? cfg->max_body : MAX_BODY_DEFAULT;
	w->port = -1;
	pthread_mutex_init(&w->hash_lock, NULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->live_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a clock step must not end or stall the streams */
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);

	if (cfg->assets) {
		w->assets = realpath(cfg->assets, NULL);
		if (!w->assets) {
			bm_msgf(err, errlen, "web: assets folder %s: %s", cfg->assets, strerror(errno));
			web_free(w);
			return BM_E_INVAL;
		}
		w->assets_len = strlen(w->assets);
		/* "/" as the folder: every file would be "inside" it. */
		if (w->assets_len <= 1) {
			bm_msgf(err, errlen, "web: assets folder %s is the root folder", cfg->assets);
			web_free(w);
			return BM_E_INVAL;
		}
	}

	e = accounts_load(cfg->accounts_path, w->hash_admin, w->hash_user, err, errlen);
	if (e != BM_OK) {
		web_free(w);
		return e;
	}
	bool dirty = false;
	char gen[GEN_LEN + 1] = "";
	if (cfg->admin_password) {
		e = apply_password(w->hash_admin, cfg->admin_password, &dirty, err, errlen);
	} else if (!w->hash_admin[0]) {
		if (!generated) {
			bm_msgf(err, errlen,
				"web: %s holds no admin password and none is configured; a generated one would be shown nowhere",
				cfg->accounts_path);
			e = BM_E_INVAL;
		} else {
			generate_password(gen);
			dirty = true;
			e = hash_password(w->hash_admin, gen, err, errlen);
		}
	}
	if (e == BM_OK && cfg->user_password)
		e = apply_password(w->hash_user, cfg->user_password, &dirty, err, errlen);
	if (e != BM_OK) {
		sodium_memzero(gen, sizeof gen);
		web_free(w);
		return e;
	}

	char threads[16], timeout[16];
	unsigned nthreads = cfg->threads ? cfg->threads : THREADS_DEFAULT;
	snprintf(threads, sizeof threads, "%u", nthreads + STREAM_MAX);
	snprintf(timeout, sizeof timeout, "%d", REQUEST_TIMEOUT_MS);
	const char *opts[] = {
		"listening_ports", listen,
		"num_threads", threads,
		"request_timeout_ms", timeout,
		"enable_keep_alive", "no",
		"enable_directory_listing", "no",
		"tcp_nodelay", "1", /* SSE events and answers leave at once, not after a delayed ACK */
		"decode_url", "yes",
		/* No CORS headers: the API is for the page's own origin. */
		"access_control_allow_origin", "",
		"access_control_allow_methods", "",
		"access_control_allow_headers", "",
		/* Files revalidate (ETag), so a firmware update shows at once. */
		"static_file_cache_control", "no-cache",
		/* civetweb 1.15 sends .mjs as text/plain, which nosniff makes
		 * a browser refuse to run as a module. */
		"extra_mime_types", ".mjs=text/javascript",
		NULL, NULL,
	};
	struct mg_callbacks cb;
	memset(&cb, 0, sizeof cb);
	cb.begin_request = on_request;
	cb.log_message = on_log;
	char cwerr[256] = "";
	unsigned cwcode = 0;
	struct mg_init_data init = { .callbacks = &cb, .user_data = w, .configuration_options = opts };
	struct mg_error_data ed = { .code = &cwcode, .text = cwerr, .text_buffer_size = sizeof cwerr };
	w->ctx = mg_start2(&init, &ed);
	pthread_mutex_lock(&w->lock);
	w->started = true;
	pthread_mutex_unlock(&w->lock);
	if (!w->ctx) {
		bm_msgf(err, errlen, "web: cannot listen on %s: %s%s%s", cfg->listen,
			cwerr[0] ? cwerr : "civetweb failed to start", w->start_log[0] ? ": " : "", w->start_log);
		sodium_memzero(gen, sizeof gen);
		web_free(w);
		return BM_E_IO;
	}
	struct mg_server_port ports[1];
	if (mg_get_server_ports(w->ctx, 1, ports) == 1)
		w->port = ports[0].port;
	/* The listener's own address, or loopback when it listens on all. */
	w->poke_to.sin_family = AF_INET;
	w->poke_to.sin_port = htons((uint16_t)(w->port > 0 ? w->port : 0));
	const char *colon = strrchr(listen, ':');
	char host[INET_ADDRSTRLEN] = "127.0.0.1";
	if (colon && (size_t)(colon - listen) < sizeof host) {
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
	}
	if (inet_pton(AF_INET, host, &w->poke_to.sin_addr) != 1 || w->poke_to.sin_addr.s_addr == htonl(INADDR_ANY))
		w->poke_to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* Stored only now that the server runs: a generated password is
	 * either stored and reported, or neither. */
	if (dirty) {
		e = accounts_store(cfg->accounts_path, w->hash_admin, w->hash_user, err, errlen);
		if (e != BM_OK) {
			sodium_memzero(gen, sizeof gen);
			bm_web_stop(w);
			return e;
		}
	}
	if (generated && gen[0])
		memcpy(generated, gen, sizeof gen);
	sodium_memzero(gen, sizeof gen);
	*out = w;
	return BM_OK;
}

/* Connects to the listener every POKE_NS until mg_stop has returned, so
 * civetweb's listener thread wakes from poll() and sees its stop flag at
 * once instead of after up to 2 s. The connections it makes are closed
 * unanswered by civetweb. */
static void *poke_thread(void *arg)
{
	bm_web *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		bool done = w->stopped;
		pthread_mutex_unlock(&w->lock);
		if (done)
			break;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			(void)connect(fd, (const struct sockaddr *)&w->poke_to, sizeof w->poke_to);
			close(fd);
		}
		struct timespec ts = { 0, (long)POKE_NS };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void bm_web_stop(bm_web *w)
{
	if (!w)
		return;
	if (w->ctx) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_broadcast(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_t poke;
		bool poking = w->port > 0 && pthread_create(&poke, NULL, poke_thread, w) == 0;
		mg_stop(w->ctx); /* waits for every worker, streams included */
		pthread_mutex_lock(&w->lock);
		w->stopped = true;
		pthread_mutex_unlock(&w->lock);
		if (poking)
			pthread_join(poke, NULL);
	}
	web_free(w);
}

int bm_web_port(const bm_web *w)
{
	return w ? w->port : -1;
}

void bm_web_get_counters(const bm_web *w, bm_web_counters *out)
{
	if (!out)
		return;
	if (!w) {
		memset(out, 0, sizeof *out);
		return;
	}
	/* The mutex is not part of the server's observable state. */
	pthread_mutex_t *lock = (pthread_mutex_t *)&w->lock;
	pthread_mutex_lock(lock);
	*out = w->cnt;
	pthread_mutex_unlock(lock);
}
