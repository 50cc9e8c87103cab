/*
 * gpio.h — relay outputs and digital inputs on GPIO lines (libgpiod v1,
 * the Linux GPIO character device), as the [gpio] section of the
 * configuration file names them (conffile.h, docs/configuration.md).
 *
 * Purpose: the port of bm_io's relays (bm_io.do_state) and inputs
 * (bm_io_inputs()) to real hardware on a Linux board.
 *
 * Invariants:
 *  - A relay r is "closed" when its line is active; an input i is "closed"
 *    when its line is active. active_low inverts the line in the kernel
 *    (GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW), so the levels here are always
 *    logical.
 *  - Outputs start inactive (relays open) at the request, and only lines
 *    whose state changes are written.
 *  - Lines not used are ignored: their relay bits are dropped, their input
 *    bits read 0. With no line used, no chip is opened.
 *  - Not thread-safe: one thread drives one bm_gpio.
 */
#ifndef BM_PLAT_GPIO_H
#define BM_PLAT_GPIO_H

#include <stdint.h>

#include "bm/alarm.h"
#include "bm/err.h"
#include "conffile.h"

typedef struct bm_gpio bm_gpio; /* opaque, malloc'ed */

/*
 * Requests the lines: dout[r].used → output, initially inactive;
 * din[i].used → input. The chip is a path ("/dev/gpiochip0"), a name
 * ("gpiochip0") or a chip label. `consumer` names the requester in the
 * kernel (gpioinfo shows it); NULL: "branchmeter".
 * BM_OK with *out set; BM_E_IO with "gpiochip0:17: <errno text>" in err (no
 * such chip, no such line, line busy, permission), nothing held then;
 * BM_E_INVAL for NULL out; BM_E_NOSPACE when out of memory.
 */
bm_err bm_gpio_open(bm_gpio **out, const bm_conf_gpio dout[BM_DO_MAX], const bm_conf_gpio din[BM_DI_MAX],
                    const char *consumer, char *err, size_t errlen);

/* Sets the relays: bit r = relay r+1 closed = line active. Writes only the
 * lines that changed (a line whose write failed is retried next call).
 * BM_OK or BM_E_IO (errno set). */
bm_err bm_gpio_set_outputs(bm_gpio *g, uint8_t state);

/* Reads the inputs: bit i = input i+1 active. BM_OK or BM_E_IO (errno set;
 * *state then holds the inputs read so far). */
bm_err bm_gpio_get_inputs(bm_gpio *g, uint8_t *state);

/* Drives the outputs inactive (relays open: a stopped meter leaves no relay
 * closed that nothing would open again), releases the lines and frees g.
 * NULL is a no-op. */
void bm_gpio_close(bm_gpio *g);

#endif /* BM_PLAT_GPIO_H */
