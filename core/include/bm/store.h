/*
 * store.h — power-fail-safe record store over the NVM interface (bm/nvm.h).
 *
 * Purpose: keep a few typed records (configuration, energies, max demand,
 * freezes...) so that a power failure at ANY moment leaves, for every record,
 * either the newly written copy or the previous good one — never a mixture,
 * never nothing when something good was there before.
 *
 * Layout (docs/persistence.md): the caller's table of record types is laid
 * out in table order from NVM address 0. Record i gets two slots, A then B,
 * each BM_STORE_HDR_SIZE + max_len bytes rounded up to BM_STORE_ALIGN:
 *
 *     addr(type 0, A) = 0
 *     addr(type i, B) = addr(type i, A) + slot_size(i)
 *     addr(type i+1, A) = addr(type i, B) + slot_size(i)
 *
 * so the layout is a pure function of the table: add new types at the END
 * and never change an existing max_len (that moves the slots after it; the
 * type and length checks then make the moved records read as bad, i.e.
 * defaults, never as another record's data).
 *
 * Each slot: a 20-byte header, little-endian, then the payload:
 *
 *     off size field
 *      0   4   magic "BMRS" (0x42 0x4D 0x52 0x53)
 *      4   1   format version of this header, BM_STORE_FORMAT (1)
 *      5   1   reserved, 0
 *      6   2   record type id
 *      8   2   payload length, <= the type's max_len
 *     10   2   payload version (the caller's, opaque to the store)
 *     12   4   sequence number, +1 per save of this type, wraps
 *     16   4   CRC-32/IEEE of bytes 0..15 and the payload
 *
 * Rules:
 *  - save() writes the slot NOT holding the newest valid copy (payload, then
 *    header), then sync()s. A failure or power loss at any byte leaves the
 *    newest valid copy untouched.
 *  - load() validates both slots (magic, format, type, length, CRC) and
 *    returns the newest valid one: higher sequence in serial-number
 *    arithmetic ((int32_t)(a - b) > 0), so the counter may wrap.
 *  - A slot whose header is all 0x00 or all 0xFF is "blank" (never written
 *    or erased); anything else that fails validation is "corrupt".
 *
 * Caller owns the bm_store (no malloc); it borrows the bm_nvm and the table,
 * which must outlive it. No clock, no OS. Not thread-safe: one owner.
 */
#ifndef BM_STORE_H
#define BM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/nvm.h"

/* Most record types one store holds (sizes bm_store). */
#ifndef BM_STORE_MAX_TYPES
#define BM_STORE_MAX_TYPES 16
#endif

/* Slot alignment in bytes (a power of two). A flash port may set its page. */
#ifndef BM_STORE_ALIGN
#define BM_STORE_ALIGN 16u
#endif

#define BM_STORE_HDR_SIZE 20u       /* bytes of a slot header */
#define BM_STORE_FORMAT 1u          /* header format version */
#define BM_STORE_MAX_PAYLOAD 65535u /* the header's length field is 16 bits */

#if BM_STORE_MAX_TYPES < 1 || BM_STORE_MAX_TYPES > 255
#error "BM_STORE_MAX_TYPES must be 1..255"
#endif
#if BM_STORE_ALIGN < 1 || (BM_STORE_ALIGN & (BM_STORE_ALIGN - 1)) != 0
#error "BM_STORE_ALIGN must be a power of two"
#endif

/* One record type of the caller's table. */
typedef struct bm_store_rec {
	uint16_t id;      /* nonzero, unique in the table; stored in each header */
	uint16_t max_len; /* largest payload, bytes, 1..BM_STORE_MAX_PAYLOAD */
} bm_store_rec;

/* What a slot held when load() looked at it. */
typedef enum bm_store_slot_state {
	BM_STORE_SLOT_BLANK = 0, /* header all 0x00 or all 0xFF */
	BM_STORE_SLOT_VALID,     /* a good record (of any payload version) */
	BM_STORE_SLOT_CORRUPT    /* failed magic/format/type/length/CRC */
} bm_store_slot_state;

/* The one-line verdict of a load, for the event log (bm_store_outcome_str). */
typedef enum bm_store_outcome {
	BM_STORE_LOADED = 0,     /* newest valid copy; the other slot is valid or blank */
	BM_STORE_FELL_BACK,      /* the other slot is corrupt (most often a torn or failed
				  * newer write; possibly damage to the older copy): the
				  * one good copy was returned */
	BM_STORE_NEVER_WRITTEN,  /* both slots blank: use defaults */
	BM_STORE_NO_VALID_COPY   /* no valid copy, at least one corrupt: use defaults */
} bm_store_outcome;

typedef struct bm_store_info {
	bm_store_outcome outcome;
	int slot;                      /* slot returned: 0 = A, 1 = B; -1 if none */
	uint32_t seq;                  /* its sequence number (0 if none) */
	bm_store_slot_state state[2];  /* of slot A and slot B */
} bm_store_info;

/* Per-type state: where the slots are and, once known, which holds the newest. */
typedef struct bm_store_slots {
	uint32_t addr;      /* slot A; slot B at addr + size */
	uint32_t size;      /* bytes per slot, header included, aligned */
	uint32_t seq;       /* sequence number of the newest valid copy */
	uint8_t newest;     /* 0 = A, 1 = B; meaningful when has_valid */
	bool known;         /* the fields below were read from the NVM */
	bool has_valid;     /* a valid copy exists */
} bm_store_slots;

typedef struct bm_store {
	const bm_nvm *nvm;
	const bm_store_rec *table;
	size_t n;
	uint32_t used; /* bytes of NVM the layout occupies, from address 0 */
	bm_store_slots slots[BM_STORE_MAX_TYPES];
} bm_store;

/*
 * Lay out `table` (n entries) on `nvm`. Does no I/O.
 * BM_OK; BM_E_INVAL NULL argument, an op missing, n not 1..BM_STORE_MAX_TYPES,
 * an id 0 or repeated, a max_len 0; BM_E_NOSPACE the layout needs more than
 * nvm->size bytes (nothing is changed then).
 */
bm_err bm_store_init(bm_store *s, const bm_nvm *nvm, const bm_store_rec *table, size_t n);

/*
 * Save len bytes of data as record `type` with the caller's payload_version:
 * write the slot not holding the newest valid copy, then sync.
 * BM_OK; BM_E_INVAL unknown type, len > its max_len, data NULL with len > 0;
 * BM_E_IO a read (finding the newest copy), write or sync failed — the
 * previous good copy is intact, and the next save again writes the other slot.
 * (After a failed sync the new copy may still have landed; load then returns
 * it, which is the data the caller meant to keep.)
 */
bm_err bm_store_save(bm_store *s, uint16_t type, const void *data, size_t len,
		     uint16_t payload_version);

/*
 * Load the newest valid copy of record `type` into buf[0..cap-1].
 * *payload_version: in, the version the caller understands; out, the version
 * of the copy found. *len: the payload length found. info (may be NULL): the
 * slot returned, the state of both slots, and the verdict to log.
 * Returns:
 *  BM_OK            newest valid copy returned, payload version as expected;
 *  BM_E_UNSUPPORTED the newest valid copy has another payload version: it is
 *                   NOT corrupt, and is still copied out (with *len and
 *                   *payload_version) so the caller can migrate it or decide
 *                   on defaults — distinct from corruption, which is never
 *                   returned, only reported in info;
 *  BM_E_NOTFOUND    no valid copy (info->outcome says blank or corrupt): use
 *                   defaults;
 *  BM_E_NOSPACE     a valid copy longer than cap (*len says how long); buf
 *                   untouched;
 *  BM_E_IO          an NVM read failed, or returned different bytes on the
 *                   second read of the chosen copy;
 *  BM_E_INVAL       unknown type or a NULL pointer (buf may be NULL if cap 0).
 * Bytes of buf beyond *len are not written.
 */
bm_err bm_store_load(bm_store *s, uint16_t type, void *buf, size_t cap, size_t *len,
		     uint16_t *payload_version, bm_store_info *info);

/*
 * Factory reset of one record type: zero both slots, the one holding the
 * older copy first, each followed by a sync, so a power failure part-way
 * leaves either the newest copy or nothing — never resurrects the older one.
 * BM_OK; BM_E_INVAL unknown type; BM_E_IO a read, write or sync failed.
 */
bm_err bm_store_erase(bm_store *s, uint16_t type);

/*
 * Where record `type`'s slot (0 = A, 1 = B) lives: *addr, and *size bytes.
 * BM_OK; BM_E_INVAL unknown type or slot.
 */
bm_err bm_store_slot_addr(const bm_store *s, uint16_t type, int slot, uint32_t *addr,
			  uint32_t *size);

/* CRC-32/IEEE 802.3 (reflected 0xEDB88320, init and xorout 0xFFFFFFFF);
 * "123456789" gives 0xCBF43926. data may be NULL if len is 0. */
uint32_t bm_store_crc32(const void *data, size_t len);

/* "loaded", "fell back to the other copy", ... : never NULL. */
const char *bm_store_outcome_str(bm_store_outcome o);

#endif /* BM_STORE_H */
