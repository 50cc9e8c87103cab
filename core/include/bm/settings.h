/*
 * settings.h — everything a user can set on the meter, as one value, and its
 * one validator (issue #5; spec: MPM4000 manual §6.2, §7.5).
 *
 * Purpose: the configuration that the register map, the configuration file,
 * the web page and the front panel all change. It gathers the measurement
 * configuration (bm_meter_cfg), the metering configuration
 * (bm_metering_cfg), communication, display and passwords.
 *
 * Invariants:
 *  - Plain data, no pointers: it is saved as one NVM record and copied
 *    freely. A change is made on a copy, checked by bm_settings_validate()
 *    as a whole, and only then committed: a rejected change (one register or
 *    a block of them) changes nothing.
 *  - bm_settings_validate() calls the measurement and metering validators
 *    (nothing is checked twice in two places) and adds the communication,
 *    display and password rules.
 *  - The sample rate, the number of circuits and the caps belong to the
 *    hardware (the sample source, the model): part of the value, not
 *    settable.
 */
#ifndef BM_SETTINGS_H
#define BM_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "bm/alarm.h"
#include "bm/config.h"
#include "bm/err.h"
#include "bm/metering.h"

typedef enum bm_parity { BM_PARITY_NONE = 0, BM_PARITY_ODD, BM_PARITY_EVEN, BM_PARITY_COUNT } bm_parity;

/* Spec §7.5.8 (RS485, Modbus-RTU, LAN, Modbus-TCP, web, FTP), §9. */
typedef struct bm_comm_cfg {
	uint8_t rs485_enabled;  /* 0/1, default 1 */
	uint8_t address;        /* 1..247, default 1 */
	uint32_t baud;          /* 2400, 4800, 9600 (default), 19200, 38400, 57600, 115200 */
	uint8_t parity;         /* bm_parity, default none */
	uint8_t stop_bits;      /* 1 (default) or 2 */
	uint8_t tcp_enabled;    /* 0/1, default 1 */
	uint16_t tcp_port;      /* 1..65535, default 502 */
	uint8_t dhcp;           /* 0/1, default 0 */
	uint32_t ip, netmask, gateway; /* IPv4, host order; default 192.168.1.31/24, gateway .1 */
	uint8_t web_enabled;    /* 0/1, default 1 */
	uint16_t web_port;      /* 1..65535, default 80 */
	uint8_t ftp_enabled;    /* 0/1, default 0 */
	uint16_t ftp_port;      /* 1..65535, default 21 */
} bm_comm_cfg;

/* Spec §7.5.9 (kept and served; the front panel will use them). */
typedef struct bm_hmi_cfg {
	uint8_t language;     /* 0 Chinese, 1 English (default) */
	uint8_t key_tone;     /* 0/1, default 1 */
	uint8_t backlight_min; /* 0 never off, 1..5 minutes (default 3) */
	uint8_t brightness;   /* 1..5, default 3 */
} bm_hmi_cfg;

#define BM_PASSWORD_MAX 9999u /* four digits, as the front panel enters them */

typedef struct bm_settings {
	bm_meter_cfg meter;
	bm_metering_cfg metering;
	bm_comm_cfg comm;
	bm_hmi_cfg hmi;
	bm_io_cfg io;               /* alarms, inputs, relays (bm/alarm.h) */
	bm_io_caps caps;            /* what the model has (bm/model.h): not settable */
	uint16_t settings_password; /* 0..9999, default 1000 (spec §7.5) */
	uint16_t reset_password;    /* 0..9999, default 2000 (spec §7.7.2) */
} bm_settings;

/* The documented defaults (docs/configuration.md), with `meter` taken from
 * the caller (the sample source knows its circuits and sensors). */
void bm_settings_default(bm_settings *s, const bm_meter_cfg *meter);

/* BM_OK, or BM_E_INVAL with *issue (if not NULL) naming the first problem. */
bm_err bm_settings_validate(const bm_settings *s, bm_cfg_issue *issue);

/* Whether `baud` is one of the rates the spec lists. */
bool bm_settings_baud_ok(uint32_t baud);

#endif /* BM_SETTINGS_H */
