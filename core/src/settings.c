/*
 * settings.c — defaults and the one validator of bm_settings (settings.h).
 *
 * The measurement and metering parts are checked by their own validators;
 * this file adds what only the device as a whole has: communication,
 * display and passwords.
 */
#include <string.h>

#include "bm/settings.h"

void bm_settings_default(bm_settings *s, const bm_meter_cfg *meter)
{
	memset(s, 0, sizeof *s);
	if (meter)
		s->meter = *meter;
	else
		bm_config_default(&s->meter);
	bm_metering_default(&s->metering);
	bm_comm_cfg *c = &s->comm;
	c->rs485_enabled = 1;
	c->address = 1;
	c->baud = 9600;
	c->parity = BM_PARITY_NONE;
	c->stop_bits = 1;
	c->tcp_enabled = 1;
	c->tcp_port = 502;
	c->dhcp = 0;
	c->ip = 0xC0A8011Fu;      /* 192.168.1.31, spec §4.7.1 */
	c->netmask = 0xFFFFFF00u; /* /24 */
	c->gateway = 0xC0A80101u; /* 192.168.1.1 */
	c->web_enabled = 1;
	c->web_port = 80;
	c->ftp_enabled = 0;
	c->ftp_port = 21;
	s->hmi.language = 1;
	s->hmi.key_tone = 1;
	s->hmi.backlight_min = 3;
	s->hmi.brightness = 3;
	bm_io_default(&s->io);
	s->settings_password = 1000;
	s->reset_password = 2000;
}

bool bm_settings_baud_ok(uint32_t baud)
{
	static const uint32_t rates[] = {2400, 4800, 9600, 19200, 38400, 57600, 115200};
	for (unsigned i = 0; i < sizeof rates / sizeof rates[0]; i++)
		if (rates[i] == baud)
			return true;
	return false;
}

/* A netmask is a run of ones from the top. */
static bool mask_ok(uint32_t m)
{
	uint32_t inv = ~m;
	return (inv & (inv + 1u)) == 0u;
}

bm_err bm_settings_validate(const bm_settings *s, bm_cfg_issue *issue)
{
	if (!s)
		return bm_cfg_fail(issue, "settings", "missing", -1, -1);
	bm_err e = bm_config_validate(&s->meter, issue);
	if (e)
		return e;
	e = bm_metering_validate(&s->metering, issue);
	if (e)
		return e;
	const bm_comm_cfg *c = &s->comm;
	if (c->rs485_enabled > 1)
		return bm_cfg_fail(issue, "rs485_enabled", "must be 0 or 1", -1, -1);
	if (c->address < 1 || c->address > 247)
		return bm_cfg_fail(issue, "address", "must be 1..247", -1, -1);
	if (!bm_settings_baud_ok(c->baud))
		return bm_cfg_fail(issue, "baud", "must be 2400, 4800, 9600, 19200, 38400, 57600 or 115200", -1, -1);
	if (c->parity >= BM_PARITY_COUNT)
		return bm_cfg_fail(issue, "parity", "must be 0 none, 1 odd or 2 even", -1, -1);
	if (c->stop_bits != 1 && c->stop_bits != 2)
		return bm_cfg_fail(issue, "stop_bits", "must be 1 or 2", -1, -1);
	if (c->tcp_enabled > 1)
		return bm_cfg_fail(issue, "tcp_enabled", "must be 0 or 1", -1, -1);
	if (c->tcp_port == 0)
		return bm_cfg_fail(issue, "tcp_port", "must be 1..65535", -1, -1);
	if (c->dhcp > 1)
		return bm_cfg_fail(issue, "dhcp", "must be 0 or 1", -1, -1);
	if (!mask_ok(c->netmask))
		return bm_cfg_fail(issue, "netmask", "must be contiguous ones (e.g. 255.255.255.0)", -1, -1);
	if (c->web_enabled > 1)
		return bm_cfg_fail(issue, "web_enabled", "must be 0 or 1", -1, -1);
	if (c->web_port == 0)
		return bm_cfg_fail(issue, "web_port", "must be 1..65535", -1, -1);
	if (c->ftp_enabled > 1)
		return bm_cfg_fail(issue, "ftp_enabled", "must be 0 or 1", -1, -1);
	if (c->ftp_port == 0)
		return bm_cfg_fail(issue, "ftp_port", "must be 1..65535", -1, -1);
	const bm_hmi_cfg *h = &s->hmi;
	if (h->language > 1)
		return bm_cfg_fail(issue, "language", "must be 0 Chinese or 1 English", -1, -1);
	if (h->key_tone > 1)
		return bm_cfg_fail(issue, "key_tone", "must be 0 or 1", -1, -1);
	if (h->backlight_min > 5)
		return bm_cfg_fail(issue, "backlight_min", "must be 0 (never) or 1..5 minutes", -1, -1);
	if (h->brightness < 1 || h->brightness > 5)
		return bm_cfg_fail(issue, "brightness", "must be 1..5", -1, -1);
	e = bm_io_validate(&s->io, &s->caps, issue);
	if (e)
		return e;
	if (s->settings_password > BM_PASSWORD_MAX)
		return bm_cfg_fail(issue, "settings_password", "must be 0..9999", -1, -1);
	if (s->reset_password > BM_PASSWORD_MAX)
		return bm_cfg_fail(issue, "reset_password", "must be 0..9999", -1, -1);
	return BM_OK;
}
