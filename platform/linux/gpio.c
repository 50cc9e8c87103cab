/*
 * gpio.c — relays and digital inputs on GPIO lines through libgpiod v1
 * (gpio.h).
 *
 * Invariants:
 *  - Each chip is opened once, however many lines it carries; every line is
 *    requested on its own (v1 line requests), so one line's failure names
 *    that line.
 *  - `out_state` mirrors what the lines were last set to successfully; a
 *    write that fails leaves its bit as it was, so the next call retries.
 *  - bm_gpio_open() holds nothing after a failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpiod.h>

#include "msg.h"
#include "gpio.h"

#define N_LINES (BM_DO_MAX + BM_DI_MAX)

struct bm_gpio {
	struct gpiod_chip *chip[N_LINES]; /* distinct chips, n_chips of them */
	char chip_name[N_LINES][sizeof(((bm_conf_gpio *)0)->chip)];
	unsigned n_chips;
	struct gpiod_line *dout[BM_DO_MAX]; /* NULL: not used */
	struct gpiod_line *din[BM_DI_MAX];
	uint8_t out_state; /* bit r: relay r+1's line is active */
};


/* A chip by path, name or label (errno set on failure: the name's). */
static struct gpiod_chip *open_chip(const char *what)
{
	if (what[0] == '/')
		return gpiod_chip_open(what);
	struct gpiod_chip *c = gpiod_chip_open_by_name(what);
	if (c || errno != ENOENT)
		return c;
	c = gpiod_chip_open_by_label(what);
	if (!c)
		errno = ENOENT;
	return c;
}

/* The chip `name`, opened on first use. NULL with errno set. */
static struct gpiod_chip *chip_for(bm_gpio *g, const char *name)
{
	for (unsigned k = 0; k < g->n_chips; k++)
		if (strcmp(g->chip_name[k], name) == 0)
			return g->chip[k];
	if (g->n_chips >= N_LINES) { /* cannot happen: one chip per line at most */
		errno = ENOSPC;
		return NULL;
	}
	struct gpiod_chip *c = open_chip(name);
	if (!c)
		return NULL;
	g->chip[g->n_chips] = c;
	snprintf(g->chip_name[g->n_chips], sizeof g->chip_name[0], "%s", name);
	g->n_chips++;
	return c;
}

void bm_gpio_close(bm_gpio *g)
{
	if (!g)
		return;
	for (unsigned r = 0; r < BM_DO_MAX; r++)
		if (g->dout[r]) {
			(void)gpiod_line_set_value(g->dout[r], 0);
			gpiod_line_release(g->dout[r]);
		}
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		if (g->din[i])
			gpiod_line_release(g->din[i]);
	for (unsigned k = 0; k < g->n_chips; k++)
		gpiod_chip_close(g->chip[k]);
	free(g);
}

/* Requests one line. false with err filled. */
static bool request(bm_gpio *g, const bm_conf_gpio *cg, bool output, const char *consumer, struct gpiod_line **out,
                    char *err, size_t errlen)
{
	if (!memchr(cg->chip, '\0', sizeof cg->chip) || cg->chip[0] == '\0') {
		bm_msgf(err, errlen, "GPIO line %u: no chip name", cg->line);
		errno = EINVAL;
		return false;
	}
	struct gpiod_chip *c = chip_for(g, cg->chip);
	if (!c) {
		bm_msgf(err, errlen, "%s:%u: %s", cg->chip, cg->line, strerror(errno));
		return false;
	}
	unsigned n = gpiod_chip_num_lines(c);
	if (cg->line >= n) {
		bm_msgf(err, errlen, "%s:%u: no such line (the chip has lines 0..%u)", cg->chip, cg->line,
		        n ? n - 1 : 0);
		return false;
	}
	struct gpiod_line *l = gpiod_chip_get_line(c, cg->line);
	if (!l) {
		bm_msgf(err, errlen, "%s:%u: %s", cg->chip, cg->line, strerror(errno));
		return false;
	}
	int flags = cg->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
	int rc = output ? gpiod_line_request_output_flags(l, consumer, flags, 0)
	                : gpiod_line_request_input_flags(l, consumer, flags);
	if (rc < 0) {
		int e = errno;
		bm_msgf(err, errlen, "%s:%u: %s%s", cg->chip, cg->line, strerror(e),
		        e == EBUSY ? " (the line is in use by another consumer or listed twice)" : "");
		return false;
	}
	*out = l;
	return true;
}

bm_err bm_gpio_open(bm_gpio **out, const bm_conf_gpio dout[BM_DO_MAX], const bm_conf_gpio din[BM_DI_MAX],
                    const char *consumer, char *err, size_t errlen)
{
	if (err && errlen > 0)
		err[0] = '\0';
	if (!out) {
		bm_msgf(err, errlen, "gpio: no output");
		return BM_E_INVAL;
	}
	*out = NULL;
	bm_gpio *g = calloc(1, sizeof *g);
	if (!g) {
		bm_msgf(err, errlen, "gpio: out of memory");
		return BM_E_NOSPACE;
	}
	if (!consumer)
		consumer = "branchmeter";
	for (unsigned r = 0; dout && r < BM_DO_MAX; r++)
		if (dout[r].used && !request(g, &dout[r], true, consumer, &g->dout[r], err, errlen)) {
			bm_gpio_close(g);
			return BM_E_IO;
		}
	for (unsigned i = 0; din && i < BM_DI_MAX; i++)
		if (din[i].used && !request(g, &din[i], false, consumer, &g->din[i], err, errlen)) {
			bm_gpio_close(g);
			return BM_E_IO;
		}
	*out = g;
	return BM_OK;
}

bm_err bm_gpio_set_outputs(bm_gpio *g, uint8_t state)
{
	if (!g)
		return BM_E_INVAL;
	bm_err rc = BM_OK;
	int first_errno = 0;
	for (unsigned r = 0; r < BM_DO_MAX; r++) {
		uint8_t bit = (uint8_t)(1u << r);
		if (!g->dout[r] || ((state ^ g->out_state) & bit) == 0)
			continue;
		if (gpiod_line_set_value(g->dout[r], (state & bit) ? 1 : 0) < 0) {
			if (!first_errno)
				first_errno = errno;
			rc = BM_E_IO;
			continue; /* the other relays still follow */
		}
		g->out_state = (uint8_t)((g->out_state & ~bit) | (state & bit));
	}
	if (first_errno)
		errno = first_errno;
	return rc;
}

bm_err bm_gpio_get_inputs(bm_gpio *g, uint8_t *state)
{
	if (!g || !state)
		return BM_E_INVAL;
	uint8_t s = 0;
	for (unsigned i = 0; i < BM_DI_MAX; i++) {
		if (!g->din[i])
			continue;
		int v = gpiod_line_get_value(g->din[i]);
		if (v < 0) {
			*state = s;
			return BM_E_IO;
		}
		if (v)
			s |= (uint8_t)(1u << i);
	}
	*state = s;
	return BM_OK;
}
