/*
 * nvm.h — the non-volatile memory a port gives the core's record store.
 *
 * Purpose: the only storage interface of the core (lwIP sys_arch style: the
 * port fills one struct, the core calls it). The record store (bm/store.h)
 * is its one user. Linux implements it with a file (platform/linux/
 * nvm_file.h); an MCU port with FRAM, an EEPROM, or flash behind its own
 * page-erase layer.
 *
 * The model: `size` bytes, addressed 0..size-1, byte-granular, each byte
 * readable and rewritable any number of times (erase-before-write, if the
 * medium needs it, is the port's business).
 *
 * Guarantees the core relies on — and nothing else:
 *  - read() returns the bytes last written, or, if power failed during a
 *    write, whatever that write left (see below). A byte never written
 *    reads as some fixed value (0x00 for the Linux file, 0xFF for erased
 *    flash); the store treats both as "blank".
 *  - write() may be TORN if power fails: any prefix, suffix or subset of the
 *    bytes may have reached the medium, and a byte being written may hold
 *    garbage. Bytes outside [addr, addr+len) are never changed.
 *  - After sync() returns BM_OK, every write() that returned BM_OK before it
 *    survives power loss. Without sync() nothing is promised, not even the
 *    order in which two writes reach the medium.
 * No other promise is assumed: no atomic writes of any size, no ordering,
 * no error detection (the store's CRC-32 does that).
 *
 * Units: addresses and lengths in bytes. The core never calls an op with
 * addr + len > size, never with len == 0, and never reentrantly.
 *
 * Errors: each op returns BM_OK, or BM_E_IO for any device failure (a port
 * may keep the details, e.g. errno text, in its ctx). A failed write may
 * have changed any of its bytes, as a torn write does.
 */
#ifndef BM_NVM_H
#define BM_NVM_H

#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"

typedef struct bm_nvm {
	/* Copy len bytes at addr into buf. BM_OK or BM_E_IO. */
	bm_err (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
	/* Store len bytes of buf at addr (may be torn, see above). BM_OK or BM_E_IO. */
	bm_err (*write)(void *ctx, uint32_t addr, const void *buf, size_t len);
	/* Make every earlier successful write durable. BM_OK or BM_E_IO. */
	bm_err (*sync)(void *ctx);
	void *ctx;     /* passed back to each op; the core never touches it */
	uint32_t size; /* bytes available, addresses 0..size-1 */
} bm_nvm;

#endif /* BM_NVM_H */
