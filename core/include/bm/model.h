/*
 * model.h — model codes: what a meter has (issue #6; spec: KPM312 datasheet
 * "Rated Parameters" and "Expandable Functions"; MPM4000 manual §2, §4.5,
 * §5.9).
 *
 * Purpose: one parser for both families' codes, deriving the circuits,
 * the current inputs, and the options (relays, digital inputs, temperature
 * or residual-current inputs, wireless module, supply). What a model lacks
 * is absent everywhere: its alarms cannot be enabled and its registers
 * answer exception 02.
 *
 * Syntax (case-insensitive; see docs/models.md):
 *  - KPM312: "KPM312", then optionally "-" and channel ratings, then
 *    optionally options, each introduced by "-" or written together:
 *      ratings: <channel 1..4><rating A|B|C|D> repeated, e.g. 1A2B3C4D, 1A2A;
 *               A 5 A, B 100 A, C 400 A, D 800 A; a channel not listed is A;
 *               a channel listed twice is an error. The meter has 4 circuits.
 *      options: R (4 relay outputs), K (4 digital inputs), 4G, Wi, L (LoRa):
 *               at most one of those three; T (temperature per circuit),
 *               S (residual current per circuit): not both. Each at most once.
 *    e.g. "KPM312-1A2B3C4D-R-K-Wi-T", "KPM312-1B2B-RKS", "KPM312".
 *  - MPM4000: "MPM4" <circuits 1..4> <input 1 Rogowski, 2 voltage CT>
 *    <expansion 0 none, 1 zero-sequence (residual current), 2 temperature>
 *    "-" <supply A 220 V AC, D 24 V DC, H 480 V AC>; the expansion input is
 *    on circuit 1 only; one relay output; no digital inputs; Ethernet.
 *    e.g. "MPM4410-A", "MPM4221-D", "MPM4312-H".
 * Invariants: no allocation; a rejected code leaves *out untouched and says
 * why in a static English string.
 */
#ifndef BM_MODEL_H
#define BM_MODEL_H

#include <stdint.h>

#include "bm/alarm.h"
#include "bm/config.h"
#include "bm/err.h"

typedef enum bm_model_family { BM_FAMILY_KPM312 = 0, BM_FAMILY_MPM4000, BM_FAMILY_COUNT } bm_model_family;
typedef enum bm_model_radio { BM_RADIO_NONE = 0, BM_RADIO_4G, BM_RADIO_WIFI, BM_RADIO_LORA, BM_RADIO_COUNT } bm_model_radio;

typedef struct bm_model {
	char code[40];            /* the code as given, upper-cased ("KPM312-1A2B-R", "MPM4410-A") */
	uint8_t family;           /* bm_model_family */
	uint8_t n_circuits;       /* 1..4 */
	uint8_t sensor;           /* bm_sensor_type of the current inputs: CT (KPM312), RCOIL or VCT (MPM4000) */
	double rated_a[BM_MAX_CIRCUITS]; /* KPM312 channel rating, primary A (5/100/400/800); MPM4000: 0 */
	bm_io_caps caps;          /* relays, inputs, temperature and residual-current inputs */
	uint8_t radio;            /* bm_model_radio */
	uint8_t ethernet;         /* 1: RJ45 (MPM4000) */
	char supply;              /* MPM4000 'A', 'D' or 'H'; KPM312 0 */
} bm_model;

/* Parses a code. BM_OK; BM_E_INVAL with *why (a static string naming the
 * problem, e.g. "S (residual current) cannot be combined with T
 * (temperature)"); BM_E_INVAL with why "unknown model family" for anything
 * else. code longer than 39 characters, or out NULL: BM_E_INVAL.
 * BM_E_UNSUPPORTED (with *why) if the model has more circuits than this
 * build's BM_MAX_CIRCUITS. *out is written only on BM_OK; *why only on an
 * error (why may be NULL). */
bm_err bm_model_parse(const char *code, bm_model *out, const char **why);

/* Human-readable summary into buf ("MPM4000: 4 circuits, Rogowski coils,
 * 1 relay, temperature on circuit 1, supply 220 V AC"), truncated to len
 * and always NUL-terminated (len 0 or buf NULL: nothing written); returns
 * buf. */
const char *bm_model_describe(const bm_model *m, char *buf, unsigned len);

#endif /* BM_MODEL_H */
