/*
 * nvm_file.c — file-backed NVM for Linux (see nvm_file.h).
 *
 * Invariants: every byte of the exposed range exists in the file after
 * open (grown with zeros); every op bounds-checks addr/len against `size`
 * even though the store never asks out of range; errors keep errno text.
 */
#include "msg.h"
#include "nvm_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif



static bool in_range(const bm_nvm_file *f, uint32_t addr, size_t len)
{
	return addr <= f->size && len <= (size_t)(f->size - addr);
}

static bm_err file_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	bm_nvm_file *f = ctx;
	uint8_t *p = buf;
	size_t done = 0;

	if (f->fd < 0 || !in_range(f, addr, len)) {
		bm_msgf(f->err, sizeof f->err, "%s: read of %zu bytes at %lu out of range or closed",
			f->path, len, (unsigned long)addr);
		return BM_E_IO;
	}
	while (done < len) {
		ssize_t n = pread(f->fd, p + done, len - done, (off_t)addr + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			bm_msgf(f->err, sizeof f->err, "%s: read at %lu: %s", f->path,
				(unsigned long)addr + (unsigned long)done, strerror(errno));
			return BM_E_IO;
		}
		if (n == 0) { /* truncated behind our back: the rest reads as blank */
			memset(p + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return BM_OK;
}

static bm_err file_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
	bm_nvm_file *f = ctx;
	const uint8_t *p = buf;
	size_t done = 0;

	if (f->fd < 0 || !in_range(f, addr, len)) {
		bm_msgf(f->err, sizeof f->err, "%s: write of %zu bytes at %lu out of range or closed",
			f->path, len, (unsigned long)addr);
		return BM_E_IO;
	}
	while (done < len) {
		ssize_t n = pwrite(f->fd, p + done, len - done, (off_t)addr + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			bm_msgf(f->err, sizeof f->err, "%s: write at %lu: %s", f->path,
				(unsigned long)addr + (unsigned long)done, strerror(errno));
			return BM_E_IO;
		}
		if (n == 0) {
			bm_msgf(f->err, sizeof f->err, "%s: write at %lu made no progress", f->path,
				(unsigned long)addr + (unsigned long)done);
			return BM_E_IO;
		}
		done += (size_t)n;
	}
	return BM_OK;
}

static bm_err file_sync(void *ctx)
{
	bm_nvm_file *f = ctx;
	if (f->fd < 0) {
		bm_msgf(f->err, sizeof f->err, "%s: sync on a closed file", f->path);
		return BM_E_IO;
	}
	while (fsync(f->fd) != 0) {
		if (errno == EINTR)
			continue;
		bm_msgf(f->err, sizeof f->err, "%s: fsync: %s", f->path, strerror(errno));
		return BM_E_IO;
	}
	return BM_OK;
}

/* fsync the directory so a newly created file's entry is durable. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

bm_err bm_nvm_file_open(bm_nvm_file *f, bm_nvm *nvm, const char *dir, const char *name,
			uint32_t size, char *err, size_t errlen)
{
	if (!f || !nvm || !dir || !name || size == 0) {
		bm_msgf(err, errlen, "nvm file: bad argument (NULL path or size 0)");
		if (f)
			f->fd = -1;
		return BM_E_INVAL;
	}
	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->size = size;

	struct stat st;
	if (stat(dir, &st) != 0) {
		int e = errno;
		bm_msgf(err, errlen, "state directory %s: %s", dir, strerror(e));
		return e == ENOENT ? BM_E_NOTFOUND : BM_E_IO;
	}
	if (!S_ISDIR(st.st_mode)) {
		bm_msgf(err, errlen, "state directory %s: not a directory", dir);
		return BM_E_INVAL;
	}
	int n = snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof f->path) {
		bm_msgf(err, errlen, "state file %s/%s: path too long", dir, name);
		return BM_E_INVAL;
	}

	bool existed = access(f->path, F_OK) == 0;
	int fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		bm_msgf(err, errlen, "state file %s: cannot open for writing: %s", f->path,
			strerror(errno));
		return BM_E_IO;
	}
	if (fstat(fd, &st) != 0) {
		bm_msgf(err, errlen, "state file %s: %s", f->path, strerror(errno));
		close(fd);
		return BM_E_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		bm_msgf(err, errlen, "state file %s: not a regular file", f->path);
		close(fd);
		return BM_E_IO;
	}
	f->created = !existed;
	if ((uint64_t)st.st_size < size) {
		if (ftruncate(fd, (off_t)size) != 0) {
			bm_msgf(err, errlen, "state file %s: cannot grow from %lld to %lu bytes: %s",
				f->path, (long long)st.st_size, (unsigned long)size, strerror(errno));
			close(fd);
			return BM_E_IO;
		}
		f->grown = !f->created;
		if (fsync(fd) != 0 || (f->created && sync_dir(dir) != 0)) {
			bm_msgf(err, errlen, "state file %s: fsync after creating/growing: %s",
				f->path, strerror(errno));
			close(fd);
			return BM_E_IO;
		}
	}

	f->fd = fd;
	*nvm = (bm_nvm){ .read = file_read, .write = file_write, .sync = file_sync,
			 .ctx = f, .size = size };
	return BM_OK;
}

void bm_nvm_file_close(bm_nvm_file *f)
{
	if (f && f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
}

const char *bm_nvm_file_error(const bm_nvm_file *f)
{
	return f ? f->err : "";
}
