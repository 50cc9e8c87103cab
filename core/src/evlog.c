/*
 * evlog.c — the persistent event ring (bm/evlog.h).
 *
 * Slot layout (32 bytes, little-endian, independent of the compiler's
 * struct layout so a log written on one target reads on another):
 *   0  u16 magic 0xE71B     2  u16 type       4  u32 seq
 *   8  i64 time            16  u8 source     17  i8 circuit
 *  18  u16 code            20  f32 value     24  f32 value2
 *  28  u32 CRC-32 of bytes 0..27 (bm_store_crc32)
 * A slot is an event only if magic, CRC and seq (it must belong in that
 * slot) agree, so blank (0x00 or 0xFF) and torn slots are never events.
 */
#include <string.h>

#include "bm/evlog.h"
#include "bm/store.h"

#define EV_MAGIC 0xE71Bu

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static void encode(const bm_event *ev, uint8_t *s)
{
	uint32_t u;
	uint64_t t = (uint64_t)ev->time;
	put16(s, EV_MAGIC);
	put16(s + 2, ev->type);
	put32(s + 4, ev->seq);
	put32(s + 8, (uint32_t)t);
	put32(s + 12, (uint32_t)(t >> 32));
	s[16] = ev->source;
	s[17] = (uint8_t)ev->circuit;
	put16(s + 18, ev->code);
	memcpy(&u, &ev->value, sizeof u);
	put32(s + 20, u);
	memcpy(&u, &ev->value2, sizeof u);
	put32(s + 24, u);
	put32(s + 28, bm_store_crc32(s, 28));
}

/* true if the slot holds a valid event (decoded into *ev) */
static bool decode(const uint8_t *s, bm_event *ev)
{
	if (get16(s) != EV_MAGIC || get32(s + 28) != bm_store_crc32(s, 28))
		return false;
	uint32_t u;
	ev->type = (uint16_t)get16(s + 2);
	ev->seq = get32(s + 4);
	ev->time = (int64_t)((uint64_t)get32(s + 8) | (uint64_t)get32(s + 12) << 32);
	ev->source = s[16];
	ev->circuit = (int8_t)s[17];
	ev->code = (uint16_t)get16(s + 18);
	u = get32(s + 20);
	memcpy(&ev->value, &u, sizeof u);
	u = get32(s + 24);
	memcpy(&ev->value2, &u, sizeof u);
	return ev->seq != 0;
}

static uint32_t slot_addr(const bm_evlog *log, uint32_t seq)
{
	return log->base + ((seq - 1u) % log->capacity) * BM_EV_SLOT;
}

bm_err bm_evlog_open(bm_evlog *log, const bm_nvm *nvm, uint32_t base, uint32_t capacity)
{
	if (!log || !nvm || capacity == 0 || capacity > UINT32_MAX / BM_EV_SLOT ||
	    base > nvm->size || (uint64_t)capacity * BM_EV_SLOT > (uint64_t)(nvm->size - base))
		return BM_E_INVAL;
	memset(log, 0, sizeof *log);
	log->nvm = nvm;
	log->base = base;
	log->capacity = capacity;
	uint32_t newest = 0;
	for (uint32_t i = 0; i < capacity; i++) {
		uint8_t s[BM_EV_SLOT];
		bm_event ev;
		if (nvm->read(nvm->ctx, base + i * BM_EV_SLOT, s, sizeof s) != BM_OK)
			return BM_E_IO;
		if (decode(s, &ev) && (ev.seq - 1u) % capacity == i && ev.seq > newest)
			newest = ev.seq;
	}
	log->last = newest;
	/* held: the valid events among the last `capacity` numbers */
	uint32_t first = newest > capacity ? newest - capacity + 1u : 1u;
	for (uint32_t seq = first; newest && seq <= newest; seq++) {
		bm_event ev;
		if (bm_evlog_get(log, seq, &ev) == BM_OK)
			log->held++;
	}
	return BM_OK;
}

bm_err bm_evlog_append(bm_evlog *log, bm_event *ev)
{
	if (!log || !log->nvm || !ev)
		return BM_E_INVAL;
	ev->seq = ++log->last;
	if (log->held < log->capacity)
		log->held++;
	uint8_t s[BM_EV_SLOT];
	encode(ev, s);
	bm_err e = log->nvm->write(log->nvm->ctx, slot_addr(log, ev->seq), s, sizeof s);
	if (e == BM_OK)
		e = log->nvm->sync(log->nvm->ctx);
	return e;
}

bm_err bm_evlog_get(const bm_evlog *log, uint32_t seq, bm_event *out)
{
	if (!log || !log->nvm || !out)
		return BM_E_INVAL;
	if (seq == 0 || seq > log->last || log->last - seq >= log->capacity)
		return BM_E_NOTFOUND;
	uint8_t s[BM_EV_SLOT];
	if (log->nvm->read(log->nvm->ctx, slot_addr(log, seq), s, sizeof s) != BM_OK)
		return BM_E_IO;
	bm_event ev;
	if (!decode(s, &ev) || ev.seq != seq)
		return BM_E_NOTFOUND;
	*out = ev;
	return BM_OK;
}

const char *bm_ev_type_name(unsigned type)
{
	static const char *const n[BM_EV_TYPE_COUNT] = {
		"none", "power-on", "power-off", "config", "reset", "clock", "rollover",
		"freeze", "lockout", "log-cleared", "alarm-on", "alarm-off", "input", "relay"};
	return type < BM_EV_TYPE_COUNT ? n[type] : "?";
}

const char *bm_ev_source_name(unsigned source)
{
	static const char *const n[BM_EV_SRC_COUNT] = {"meter", "modbus-tcp", "modbus-rtu", "panel",
	                                               "web", "mqtt", "config-file"};
	return source < BM_EV_SRC_COUNT ? n[source] : "?";
}
