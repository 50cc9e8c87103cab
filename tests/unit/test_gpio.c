/*
 * test_gpio.c — relays and digital inputs on GPIO lines
 * (platform/linux/gpio.h, libgpiod v1).
 *
 * What runs everywhere: a chip that does not exist is refused with a
 * message naming chip and line, and nothing is held; with no line used,
 * opening works, setting relays is a no-op and the inputs read 0.
 *
 * Real lines need a simulated chip: load the kernel's gpio-mockup module
 * (`modprobe gpio-mockup gpio_mockup_ranges=-1,8`) before the test; it then
 * drives outputs and inputs through the module's debugfs files
 * (/sys/kernel/debug/gpio-mockup/<chip>/<line>: reading gives an output's
 * level, writing pulls an input). Without such a chip (containers, CI
 * sandboxes) that test is skipped and says why. BM_TEST_GPIOCHIP=<name>
 * picks the chip explicitly.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gpiod.h>

#include "gpio.h"

static bm_conf_gpio line(const char *chip, unsigned l, bool active_low)
{
	bm_conf_gpio g;
	memset(&g, 0, sizeof g);
	snprintf(g.chip, sizeof g.chip, "%s", chip);
	g.line = l;
	g.active_low = active_low;
	g.used = true;
	return g;
}

static void test_no_such_chip(void **state)
{
	(void)state;
	bm_conf_gpio dout[BM_DO_MAX], din[BM_DI_MAX];
	char err[256];
	bm_gpio *g = (bm_gpio *)(uintptr_t)1;
	memset(dout, 0, sizeof dout);
	memset(din, 0, sizeof din);

	/* by name */
	dout[1] = line("bm-no-such-gpiochip", 17, false);
	assert_int_equal(bm_gpio_open(&g, dout, din, "test", err, sizeof err), BM_E_IO);
	assert_null(g);
	assert_string_equal(err, "bm-no-such-gpiochip:17: No such file or directory");

	/* by path */
	dout[1] = line("/dev/bm-no-such-gpiochip", 3, true);
	assert_int_equal(bm_gpio_open(&g, dout, din, NULL, err, sizeof err), BM_E_IO);
	assert_null(g);
	assert_string_equal(err, "/dev/bm-no-such-gpiochip:3: No such file or directory");

	/* a path that is no GPIO chip */
	dout[1] = line("/dev/null", 0, false);
	assert_int_equal(bm_gpio_open(&g, dout, din, NULL, err, sizeof err), BM_E_IO);
	assert_null(g);
	assert_int_equal(strncmp(err, "/dev/null:0: ", 13), 0);

	/* an input */
	memset(dout, 0, sizeof dout);
	din[3] = line("gpiochip999", 22, true);
	assert_int_equal(bm_gpio_open(&g, dout, din, "test", err, sizeof err), BM_E_IO);
	assert_null(g);
	assert_string_equal(err, "gpiochip999:22: No such file or directory");

	/* no chip name (a bm_conf_gpio built by hand) */
	din[3] = line("", 1, false);
	assert_int_equal(bm_gpio_open(&g, dout, din, "test", err, sizeof err), BM_E_IO);
	assert_string_equal(err, "GPIO line 1: no chip name");

	/* a short buffer still ends in a NUL */
	din[3] = line("gpiochip999", 22, true);
	char tiny[6];
	assert_int_equal(bm_gpio_open(&g, dout, din, "test", tiny, sizeof tiny), BM_E_IO);
	assert_string_equal(tiny, "gpioc");
}

static void test_no_lines(void **state)
{
	(void)state;
	bm_conf_gpio dout[BM_DO_MAX], din[BM_DI_MAX];
	char err[256] = "x";
	memset(dout, 0, sizeof dout);
	memset(din, 0, sizeof din);
	/* not used: the chip is never opened, so a bad name does not matter */
	snprintf(dout[0].chip, sizeof dout[0].chip, "bm-no-such-gpiochip");
	dout[0].line = 5;
	bm_gpio *g = NULL;
	assert_int_equal(bm_gpio_open(&g, dout, din, "test", err, sizeof err), BM_OK);
	assert_non_null(g);
	assert_string_equal(err, "");
	assert_int_equal(bm_gpio_set_outputs(g, 0x0F), BM_OK);
	assert_int_equal(bm_gpio_set_outputs(g, 0x00), BM_OK);
	uint8_t in = 0xFF;
	assert_int_equal(bm_gpio_get_inputs(g, &in), BM_OK);
	assert_int_equal(in, 0);
	bm_gpio_close(g);

	/* NULL arrays are "nothing used" */
	assert_int_equal(bm_gpio_open(&g, NULL, NULL, NULL, NULL, 0), BM_OK);
	assert_int_equal(bm_gpio_get_inputs(g, &in), BM_OK);
	assert_int_equal(in, 0);
	bm_gpio_close(g);

	/* argument errors */
	assert_int_equal(bm_gpio_open(NULL, dout, din, NULL, err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_gpio_set_outputs(NULL, 1), BM_E_INVAL);
	assert_int_equal(bm_gpio_get_inputs(NULL, &in), BM_E_INVAL);
	bm_gpio_close(NULL);
}

/* ---- real lines on gpio-mockup ------------------------------------------ */

/* The name of a gpio-mockup chip ("gpiochipN") with at least 8 lines, or false. */
static bool find_mockup(char *name, size_t n)
{
	const char *env = getenv("BM_TEST_GPIOCHIP");
	if (env && *env) {
		snprintf(name, n, "%s", env);
		return true;
	}
	DIR *d = opendir("/dev");
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "gpiochip", 8) != 0)
			continue;
		struct gpiod_chip *c = gpiod_chip_open_by_name(e->d_name);
		if (!c)
			continue;
		const char *label = gpiod_chip_label(c);
		size_t len = strlen(e->d_name);
		if (label && (strncmp(label, "gpio-mockup", 11) == 0 || strncmp(label, "gpio-sim", 8) == 0) &&
		    gpiod_chip_num_lines(c) >= 8 && len < n) {
			memcpy(name, e->d_name, len + 1);
			found = true;
		}
		gpiod_chip_close(c);
	}
	closedir(d);
	return found;
}

/* gpio-mockup's debugfs file of a line: read an output's level, pull an input. */
static bool dbg_path(const char *chip, unsigned l, char *p, size_t n)
{
	snprintf(p, n, "/sys/kernel/debug/gpio-mockup/%s/%u", chip, l);
	FILE *f = fopen(p, "r");
	if (!f)
		return false;
	fclose(f);
	return true;
}

static int dbg_read(const char *chip, unsigned l)
{
	char p[128], buf[8] = "";
	if (!dbg_path(chip, l, p, sizeof p))
		return -1;
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	return buf[0] == '1';
}

static void dbg_pull(const char *chip, unsigned l, int v)
{
	char p[128];
	assert_true(dbg_path(chip, l, p, sizeof p));
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%d", v);
	assert_int_equal(fclose(f), 0);
}

static void test_real_lines(void **state)
{
	(void)state;
	char chip[64], err[256];
	if (!find_mockup(chip, sizeof chip)) {
		print_message("[  SKIP    ] test_real_lines: no gpio-mockup / gpio-sim chip (load one with "
		              "`modprobe gpio-mockup gpio_mockup_ranges=-1,8`, or set BM_TEST_GPIOCHIP)\n");
		skip();
	}
	bm_conf_gpio dout[BM_DO_MAX], din[BM_DI_MAX];
	memset(dout, 0, sizeof dout);
	memset(din, 0, sizeof din);
	dout[0] = line(chip, 0, false);
	dout[2] = line(chip, 1, true); /* relay 3, active low */
	din[0] = line(chip, 2, false);
	din[1] = line(chip, 3, true);
	bm_gpio *g = NULL;
	if (bm_gpio_open(&g, dout, din, "bm-test", err, sizeof err) != BM_OK)
		fail_msg("open: %s", err);

	/* the same lines again: busy, named */
	bm_gpio *g2 = NULL;
	assert_int_equal(bm_gpio_open(&g2, dout, din, "bm-test2", err, sizeof err), BM_E_IO);
	assert_null(g2);
	char want[128];
	snprintf(want, sizeof want, "%s:0: Device or resource busy", chip);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	/* a line past the chip's end */
	bm_conf_gpio far[BM_DO_MAX];
	memset(far, 0, sizeof far);
	far[0] = line(chip, 60000, false);
	assert_int_equal(bm_gpio_open(&g2, far, NULL, "bm-test2", err, sizeof err), BM_E_IO);
	snprintf(want, sizeof want, "%s:60000: no such line", chip);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);

	bool dbg = dbg_read(chip, 0) >= 0;
	if (!dbg)
		print_message("[  INFO    ] no gpio-mockup debugfs: checking the calls only, not the levels\n");
	/* outputs start inactive: relay 1 low, relay 3 (active low) high */
	if (dbg) {
		assert_int_equal(dbg_read(chip, 0), 0);
		assert_int_equal(dbg_read(chip, 1), 1);
	}
	assert_int_equal(bm_gpio_set_outputs(g, 0x05), BM_OK); /* relays 1 and 3 closed */
	if (dbg) {
		assert_int_equal(dbg_read(chip, 0), 1);
		assert_int_equal(dbg_read(chip, 1), 0);
	}
	assert_int_equal(bm_gpio_set_outputs(g, 0x0A), BM_OK); /* 2 and 4 are not wired: both open */
	if (dbg) {
		assert_int_equal(dbg_read(chip, 0), 0);
		assert_int_equal(dbg_read(chip, 1), 1);
	}
	uint8_t in = 0xFF;
	if (dbg) {
		dbg_pull(chip, 2, 1);
		dbg_pull(chip, 3, 1); /* active low: high = open */
		assert_int_equal(bm_gpio_get_inputs(g, &in), BM_OK);
		assert_int_equal(in, 0x01);
		dbg_pull(chip, 2, 0);
		dbg_pull(chip, 3, 0);
		assert_int_equal(bm_gpio_get_inputs(g, &in), BM_OK);
		assert_int_equal(in, 0x02);
	} else {
		assert_int_equal(bm_gpio_get_inputs(g, &in), BM_OK);
		assert_int_equal(in & ~0x03, 0);
	}
	assert_int_equal(bm_gpio_set_outputs(g, 0x01), BM_OK);
	bm_gpio_close(g); /* drives the relays open and releases the lines */
	if (dbg)
		assert_int_equal(dbg_read(chip, 0), 0);
	/* released: the lines can be requested again */
	assert_int_equal(bm_gpio_open(&g, dout, din, "bm-test", err, sizeof err), BM_OK);
	bm_gpio_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_such_chip),
		cmocka_unit_test(test_no_lines),
		cmocka_unit_test(test_real_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
