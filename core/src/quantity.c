/* quantity.c — the quantity table's data (see quantity.h). */
#include <string.h>

#include "bm/quantity.h"

const bm_quantity_info bm_quantity_table[BM_Q_COUNT] = {
#define BM_Q_ROW(name, unit, desc) {#name, unit, desc},
	BM_QUANTITIES(BM_Q_ROW)
#undef BM_Q_ROW
};

int bm_quantity_find(const char *name)
{
	for (int i = 0; i < BM_Q_COUNT; i++)
		if (strcmp(bm_quantity_table[i].name, name) == 0)
			return i;
	return -1;
}
