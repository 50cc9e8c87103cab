/*
 * ident.c — the device identity a client reads (registers 20..67, FC 43/14).
 *
 * The model code follows the MPM4000 scheme, MPM4<circuits><input>0-A,
 * derived from the configuration until model codes are configurable (issue
 * #6): input 1 Rogowski coils, 2 voltage CTs or CTs. The serial number is
 * derived from /etc/machine-id (stable per machine), "BM" and ten digits;
 * its last four digits are the universal password of the spec (§7.5).
 */
#include <stdio.h>
#include <string.h>

#include "run.h"

void bm_ident_fill(bm_rm_ident *id, const bm_meter_cfg *cfg)
{
	memset(id, 0, sizeof *id);
	snprintf(id->vendor, sizeof id->vendor, "branchmeter");
	snprintf(id->firmware, sizeof id->firmware, "%s", BM_VERSION);
	unsigned input = cfg->circuit[0].sensor[0].type == BM_SENSOR_RCOIL ? 1u : 2u;
	snprintf(id->model, sizeof id->model, "MPM4%u%u0-A", (unsigned)cfg->n_circuits, input);
	/* FNV-1a over the machine id: a stable number, not a secret */
	unsigned long long h = 1469598103934665603ull;
	FILE *f = fopen("/etc/machine-id", "r");
	if (f) {
		for (int ch; (ch = fgetc(f)) != EOF && ch != '\n';) {
			h ^= (unsigned char)ch;
			h *= 1099511628211ull;
		}
		fclose(f);
	}
	snprintf(id->serial, sizeof id->serial, "BM%010llu", h % 10000000000ull);
}
