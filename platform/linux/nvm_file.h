/*
 * nvm_file.h — the Linux NVM (bm/nvm.h): one file of fixed size in a state
 * directory, written with pwrite() and made durable with fsync().
 *
 * Purpose: give the core's record store (bm/store.h) its storage on Linux.
 *
 * Invariants:
 *  - The file is `dir/name`, opened O_RDWR|O_CREAT (mode 0644). It is never
 *    shrunk: a shorter file (new, truncated, older layout) is grown to `size`
 *    with zeros (ftruncate), which the store reads as blank slots; a longer
 *    one is used as is, its first `size` bytes being the NVM. A created or
 *    grown file is fsync()ed, and so is the directory when the file was
 *    created, so the file itself survives a crash.
 *  - read() past the end of the file (someone truncated it while open) gives
 *    zeros; short reads and writes and EINTR are retried.
 *  - sync() is fsync() of the file.
 *  - Errors: open returns a bm_err and writes one line of English naming the
 *    path and the errno text into err[0..errlen-1] (when err is not NULL):
 *    BM_E_NOTFOUND the directory does not exist; BM_E_INVAL not a directory,
 *    size 0, or a NULL argument; BM_E_IO the file cannot be opened, created,
 *    grown or synced (permissions, read-only or full file system...). The
 *    ops return BM_E_IO and keep the same kind of line in the object
 *    (bm_nvm_file_error()).
 *
 * One object per file; not thread-safe. Two processes must not open the same
 * file (no locking is done here; the app runs one meter per state directory).
 */
#ifndef BM_NVM_FILE_H
#define BM_NVM_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/nvm.h"

#define BM_NVM_FILE_PATH_MAX 4096
#define BM_NVM_FILE_ERR_MAX 256

typedef struct bm_nvm_file {
	int fd;                 /* -1 when closed */
	uint32_t size;          /* bytes of NVM exposed */
	bool created;           /* open created the file */
	bool grown;             /* open found it shorter than size and grew it */
	char path[BM_NVM_FILE_PATH_MAX];
	char err[BM_NVM_FILE_ERR_MAX]; /* last op error, "" if none */
} bm_nvm_file;

/*
 * Open (or create) dir/name as an NVM of `size` bytes and fill *nvm with its
 * ops (nvm->ctx = f). On error f is closed (fd -1) and nvm untouched.
 * Returns BM_OK, BM_E_NOTFOUND, BM_E_INVAL or BM_E_IO as described above.
 */
bm_err bm_nvm_file_open(bm_nvm_file *f, bm_nvm *nvm, const char *dir, const char *name,
			uint32_t size, char *err, size_t errlen);

/* Close the file (no implicit sync: the store syncs after every save).
 * Safe to call twice. */
void bm_nvm_file_close(bm_nvm_file *f);

/* The last op's error line ("" if none): e.g. "/var/lib/bm/nvm.bin: write at
 * 4096: No space left on device". Never NULL. */
const char *bm_nvm_file_error(const bm_nvm_file *f);

#endif /* BM_NVM_FILE_H */
