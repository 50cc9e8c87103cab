/*
 * store.c — power-fail-safe A/B record store (see bm/store.h, docs/persistence.md).
 *
 * Invariants:
 *  - A save never writes the slot holding the newest valid copy of its type,
 *    and never writes outside its type's two slots. So whatever a torn or
 *    failed write leaves, that copy still validates and load() returns it.
 *  - Nothing read from the NVM is trusted: a header is decoded byte by byte,
 *    its length bounded by the table before anything is read after it, and a
 *    copy is returned only if the CRC over the very bytes handed to the
 *    caller matches.
 *  - The cached "which slot is newest" (bm_store_slots) is only ever set
 *    from a full validation or a successful save+sync; any doubt (a failed
 *    erase, a read error) clears it, and the next save rescans.
 * No malloc, no OS, no clock: all I/O goes through the bm_nvm ops.
 */
#include "bm/store.h"

#include <stddef.h>
#include <string.h>

#define MAGIC0 0x42u /* 'B' */
#define MAGIC1 0x4Du /* 'M' */
#define MAGIC2 0x52u /* 'R' */
#define MAGIC3 0x53u /* 'S' */
#define CHUNK 64u    /* stack buffer for streaming CRC and zeroing */

/*
 * The header as fields. It is (de)serialised byte by byte, little-endian, so
 * the NVM image is the same on every CPU; the struct only documents the
 * layout and lets the compiler check it has no padding.
 */
typedef struct store_hdr {
	uint32_t magic;    /* 0 */
	uint8_t format;    /* 4 */
	uint8_t reserved;  /* 5 */
	uint16_t type;     /* 6 */
	uint16_t len;      /* 8 */
	uint16_t pver;     /* 10 */
	uint32_t seq;      /* 12 */
	uint32_t crc;      /* 16: over bytes 0..15 and the payload */
} store_hdr;

_Static_assert(sizeof(store_hdr) == BM_STORE_HDR_SIZE, "slot header must be 20 bytes");
_Static_assert(offsetof(store_hdr, seq) == 12 && offsetof(store_hdr, crc) == 16,
	       "slot header layout is documented in store.h");
_Static_assert(BM_STORE_ALIGN <= 4096u, "BM_STORE_ALIGN above 4096 is surely a mistake");

/* ------------------------------------------------------------------ CRC */

/* Nibble table: 64 bytes of rodata, about 2 table steps per byte. */
static const uint32_t crc_nibble[16] = {
	0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
	0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
	0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

/* Un-finalised CRC state in, state out (start with 0xFFFFFFFF, end with ~). */
static uint32_t crc_update(uint32_t c, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		c = (c >> 4) ^ crc_nibble[c & 0x0Fu];
		c = (c >> 4) ^ crc_nibble[c & 0x0Fu];
	}
	return c;
}

uint32_t bm_store_crc32(const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return ~crc_update(0xFFFFFFFFu, data, len);
}

/* --------------------------------------------------------------- header */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Bytes 0..15 of a header (everything but the CRC). */
static void hdr_encode(uint8_t *b, uint16_t type, uint16_t len, uint16_t pver, uint32_t seq)
{
	b[0] = MAGIC0;
	b[1] = MAGIC1;
	b[2] = MAGIC2;
	b[3] = MAGIC3;
	b[4] = BM_STORE_FORMAT;
	b[5] = 0;
	put16(b + 6, type);
	put16(b + 8, len);
	put16(b + 10, pver);
	put32(b + 12, seq);
}

static void hdr_decode(const uint8_t *b, store_hdr *h)
{
	h->magic = get32(b);
	h->format = b[4];
	h->reserved = b[5];
	h->type = get16(b + 6);
	h->len = get16(b + 8);
	h->pver = get16(b + 10);
	h->seq = get32(b + 12);
	h->crc = get32(b + 16);
}

static bool all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* a is newer than b in serial-number arithmetic (RFC 1982 style, 32 bits). */
static bool seq_newer(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;
	return d != 0 && d < 0x80000000u;
}

/* ---------------------------------------------------------------- slots */

static int find_type(const bm_store *s, uint16_t type)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->table[i].id == type)
			return (int)i;
	return -1;
}

static uint32_t slot_addr(const bm_store *s, int idx, int slot)
{
	return s->slots[idx].addr + (slot ? s->slots[idx].size : 0u);
}

/* What one slot holds: raw header bytes, decoded header, state. */
typedef struct slot_view {
	uint8_t raw[BM_STORE_HDR_SIZE];
	store_hdr h;
	bm_store_slot_state state;
} slot_view;

/* Read and fully validate one slot (header, then the payload's CRC in chunks). */
static bm_err check_slot(const bm_store *s, int idx, int slot, slot_view *v)
{
	const bm_nvm *nvm = s->nvm;
	uint32_t a = slot_addr(s, idx, slot);

	v->state = BM_STORE_SLOT_CORRUPT;
	if (nvm->read(nvm->ctx, a, v->raw, sizeof v->raw) != BM_OK)
		return BM_E_IO;
	hdr_decode(v->raw, &v->h);
	if (all_bytes(v->raw, sizeof v->raw, 0x00) || all_bytes(v->raw, sizeof v->raw, 0xFF)) {
		v->state = BM_STORE_SLOT_BLANK;
		return BM_OK;
	}
	if (v->raw[0] != MAGIC0 || v->raw[1] != MAGIC1 || v->raw[2] != MAGIC2 ||
	    v->raw[3] != MAGIC3 || v->h.format != BM_STORE_FORMAT ||
	    v->h.type != s->table[idx].id || v->h.len > s->table[idx].max_len)
		return BM_OK;

	uint32_t c = crc_update(0xFFFFFFFFu, v->raw, 16);
	uint8_t chunk[CHUNK];
	for (uint32_t off = 0; off < v->h.len;) {
		uint32_t n = v->h.len - off;
		if (n > CHUNK)
			n = CHUNK;
		if (nvm->read(nvm->ctx, a + BM_STORE_HDR_SIZE + off, chunk, n) != BM_OK)
			return BM_E_IO;
		c = crc_update(c, chunk, n);
		off += n;
	}
	if (~c == v->h.crc)
		v->state = BM_STORE_SLOT_VALID;
	return BM_OK;
}

/* Validate both slots of type idx; refresh the cache. Returns the newest
 * valid slot (0/1) in *newest, or -1. */
static bm_err scan(bm_store *s, int idx, slot_view v[2], int *newest)
{
	bm_store_slots *t = &s->slots[idx];

	t->known = false;
	for (int k = 0; k < 2; k++)
		if (check_slot(s, idx, k, &v[k]) != BM_OK)
			return BM_E_IO;

	bool va = v[0].state == BM_STORE_SLOT_VALID, vb = v[1].state == BM_STORE_SLOT_VALID;
	if (va && vb)
		*newest = seq_newer(v[1].h.seq, v[0].h.seq) ? 1 : 0; /* a tie keeps A */
	else
		*newest = va ? 0 : (vb ? 1 : -1);

	t->known = true;
	t->has_valid = *newest >= 0;
	t->newest = (uint8_t)(*newest > 0);
	t->seq = *newest >= 0 ? v[*newest].h.seq : 0;
	return BM_OK;
}

/* ------------------------------------------------------------------ API */

bm_err bm_store_init(bm_store *s, const bm_nvm *nvm, const bm_store_rec *table, size_t n)
{
	if (!s || !nvm || !table || !nvm->read || !nvm->write || !nvm->sync)
		return BM_E_INVAL;
	if (n < 1 || n > BM_STORE_MAX_TYPES)
		return BM_E_INVAL;

	bm_store_slots slots[BM_STORE_MAX_TYPES];
	uint32_t addr = 0;
	for (size_t i = 0; i < n; i++) {
		if (table[i].id == 0 || table[i].max_len == 0)
			return BM_E_INVAL;
		for (size_t j = 0; j < i; j++)
			if (table[j].id == table[i].id)
				return BM_E_INVAL;
		/* At most 255 * 2 * (65535 + 20 + 4095) bytes: no uint32 overflow. */
		uint32_t size = BM_STORE_HDR_SIZE + (uint32_t)table[i].max_len;
		size = (size + BM_STORE_ALIGN - 1u) & ~(uint32_t)(BM_STORE_ALIGN - 1u);
		slots[i] = (bm_store_slots){ .addr = addr, .size = size };
		addr += 2u * size;
	}
	if (addr > nvm->size)
		return BM_E_NOSPACE;

	memset(s, 0, sizeof *s);
	s->nvm = nvm;
	s->table = table;
	s->n = n;
	s->used = addr;
	memcpy(s->slots, slots, n * sizeof slots[0]);
	return BM_OK;
}

bm_err bm_store_slot_addr(const bm_store *s, uint16_t type, int slot, uint32_t *addr,
			  uint32_t *size)
{
	int idx = s ? find_type(s, type) : -1;
	if (idx < 0 || (slot != 0 && slot != 1) || !addr || !size)
		return BM_E_INVAL;
	*addr = slot_addr(s, idx, slot);
	*size = s->slots[idx].size;
	return BM_OK;
}

bm_err bm_store_save(bm_store *s, uint16_t type, const void *data, size_t len,
		     uint16_t payload_version)
{
	int idx = s ? find_type(s, type) : -1;
	if (idx < 0 || len > s->table[idx].max_len || (!data && len > 0))
		return BM_E_INVAL;

	bm_store_slots *t = &s->slots[idx];
	if (!t->known) {
		slot_view v[2];
		int newest;
		if (scan(s, idx, v, &newest) != BM_OK)
			return BM_E_IO; /* which slot is good is unknown: write nothing */
	}

	int target = t->has_valid ? !t->newest : 0;
	uint32_t seq = t->has_valid ? t->seq + 1u : 1u;
	uint32_t a = slot_addr(s, idx, target);
	uint8_t hdr[BM_STORE_HDR_SIZE];
	hdr_encode(hdr, type, (uint16_t)len, payload_version, seq);
	uint32_t c = crc_update(0xFFFFFFFFu, hdr, 16);
	if (len > 0)
		c = crc_update(c, data, len);
	put32(hdr + 16, ~c);

	const bm_nvm *nvm = s->nvm;
	/* Payload first, header last: the header is the commit mark on media
	 * that keep write order; the CRC covers the rest. */
	if (len > 0 && nvm->write(nvm->ctx, a + BM_STORE_HDR_SIZE, data, len) != BM_OK)
		return BM_E_IO;
	if (nvm->write(nvm->ctx, a, hdr, sizeof hdr) != BM_OK)
		return BM_E_IO;
	if (nvm->sync(nvm->ctx) != BM_OK)
		return BM_E_IO;

	t->newest = (uint8_t)target;
	t->seq = seq;
	t->has_valid = true;
	t->known = true;
	return BM_OK;
}

bm_err bm_store_load(bm_store *s, uint16_t type, void *buf, size_t cap, size_t *len,
		     uint16_t *payload_version, bm_store_info *info)
{
	int idx = s ? find_type(s, type) : -1;
	if (idx < 0 || (!buf && cap > 0) || !len || !payload_version)
		return BM_E_INVAL;

	bm_store_info dummy;
	if (!info)
		info = &dummy;
	*info = (bm_store_info){ .outcome = BM_STORE_NO_VALID_COPY, .slot = -1,
				 .state = { BM_STORE_SLOT_CORRUPT, BM_STORE_SLOT_CORRUPT } };
	*len = 0;

	slot_view v[2];
	int newest;
	if (scan(s, idx, v, &newest) != BM_OK)
		return BM_E_IO;
	info->state[0] = v[0].state;
	info->state[1] = v[1].state;
	if (newest < 0) {
		bool blank = v[0].state == BM_STORE_SLOT_BLANK && v[1].state == BM_STORE_SLOT_BLANK;
		info->outcome = blank ? BM_STORE_NEVER_WRITTEN : BM_STORE_NO_VALID_COPY;
		return BM_E_NOTFOUND;
	}
	info->slot = newest;
	info->seq = v[newest].h.seq;
	info->outcome = v[!newest].state == BM_STORE_SLOT_CORRUPT ? BM_STORE_FELL_BACK
								   : BM_STORE_LOADED;

	const store_hdr *h = &v[newest].h;
	*len = h->len;
	if (h->len > cap)
		return BM_E_NOSPACE;

	/* Read the payload once more, into buf, and accept it only if the CRC
	 * matches these very bytes: a flaky read cannot slip through. */
	const bm_nvm *nvm = s->nvm;
	uint32_t c = crc_update(0xFFFFFFFFu, v[newest].raw, 16);
	if (h->len > 0) {
		if (nvm->read(nvm->ctx, slot_addr(s, idx, newest) + BM_STORE_HDR_SIZE, buf,
			      h->len) != BM_OK)
			return BM_E_IO;
		c = crc_update(c, buf, h->len);
	}
	if (~c != h->crc) {
		s->slots[idx].known = false;
		return BM_E_IO;
	}

	uint16_t want = *payload_version;
	*payload_version = h->pver;
	return h->pver == want ? BM_OK : BM_E_UNSUPPORTED;
}

/* Zero one slot, then sync. */
static bm_err zero_slot(bm_store *s, int idx, int slot)
{
	static const uint8_t zeros[CHUNK];
	const bm_nvm *nvm = s->nvm;
	uint32_t a = slot_addr(s, idx, slot), size = s->slots[idx].size;

	for (uint32_t off = 0; off < size;) {
		uint32_t n = size - off;
		if (n > CHUNK)
			n = CHUNK;
		if (nvm->write(nvm->ctx, a + off, zeros, n) != BM_OK)
			return BM_E_IO;
		off += n;
	}
	return nvm->sync(nvm->ctx) == BM_OK ? BM_OK : BM_E_IO;
}

bm_err bm_store_erase(bm_store *s, uint16_t type)
{
	int idx = s ? find_type(s, type) : -1;
	if (idx < 0)
		return BM_E_INVAL;

	slot_view v[2];
	int newest;
	if (scan(s, idx, v, &newest) != BM_OK)
		return BM_E_IO;
	/* The older copy goes first: a power failure in between leaves the
	 * newest, and one in the second step leaves nothing valid. */
	int first = newest >= 0 ? !newest : 0;
	s->slots[idx].known = false;
	if (zero_slot(s, idx, first) != BM_OK || zero_slot(s, idx, !first) != BM_OK)
		return BM_E_IO;
	s->slots[idx].known = true;
	s->slots[idx].has_valid = false;
	s->slots[idx].seq = 0;
	return BM_OK;
}

const char *bm_store_outcome_str(bm_store_outcome o)
{
	switch (o) {
	case BM_STORE_LOADED: return "loaded";
	case BM_STORE_FELL_BACK: return "fell back to the remaining good copy (the other copy is corrupt)";
	case BM_STORE_NEVER_WRITTEN: return "never written: defaults";
	case BM_STORE_NO_VALID_COPY: return "no valid copy: defaults";
	default: return "unknown outcome";
	}
}
