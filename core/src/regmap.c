/*
 * regmap.c — the register map table and the reads and writes through it
 * (bm/regmap.h; docs/registers.md is printed from this file).
 *
 * The table is a list of blocks. A block is `n` items of `regs` registers at
 * `addr`; its `kind` says how an item's value is computed (a quantity of the
 * last window, an energy counter, a settings field ...). Blocks come in
 * three groups: meter-wide (addresses below BM_RM_CCFG_BASE), circuit
 * configuration (circuit c at BM_RM_CCFG_BASE + c·BM_RM_CCFG_STRIDE) and
 * circuit measurement and metering (BM_RM_CIRCUIT_BASE +
 * c·BM_RM_CIRCUIT_STRIDE); per-circuit blocks are listed once, at circuit 1's
 * addresses. Blocks are in address order within a group, never overlap and
 * stay inside their stride (test_regmap checks all three).
 *
 * Settings are fields of bm_settings reached by offset (the `fields` table),
 * so reading and writing a setting is one generic path; the few settings
 * with their own encoding (CT ratio, the spec's 1072 / 1073, the tariff
 * table's HHMM times, passwords) have their own kinds.
 *
 * Addresses and names are part of the product: append, never move.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "sbuf.h"
#include "bm/caltime.h"
#include "bm/modbus.h"
#include "bm/pq.h"
#include "bm/quantity.h"
#include "bm/regmap.h"

enum { S_METER = 0, S_CCFG, S_ACFG, S_CIRC, S_COUNT };

/* What an item's value is. */
enum {
	K_MAPVER, K_NCIRC, K_FS, K_TARIFF, K_STATUS, K_WINDOWS, K_RUNTIME, K_RTC, K_DATETIME, K_IDENT,
	K_UNLOCK, K_ACCESS, K_RESET, K_PASSWORD, K_UNLOCK_LEFT,
	K_FIELD,    /* a settings field, arg = fields[] index (per-circuit fields add the circuit's stride) */
	K_P1072, K_P1073, K_TSTART, K_TTARIFF,
	K_CTRATIO,
	K_Q, K_EF, K_EI, K_TF, K_TI, K_DEM, K_LOAD, K_MM, K_H, K_MONTH,
	K_EVLAST, K_EVSEL, K_EVENT,
	K_IOSTAT, K_DOCMD, K_DICOUNT, K_SOE, K_ALSTAT, K_AUX
};

typedef struct rm_block {
	uint16_t addr;
	uint8_t scope;
	uint8_t kind;
	uint16_t arg;
	uint16_t n;
	uint8_t regs;
	uint8_t type;
	uint8_t access;
	uint8_t level;
	const char *name; /* the item's name, or a prefix / suffix the kind uses */
	const char *unit;
	const char *desc;
} rm_block;

/* ---- settings fields --------------------------------------------------- */

enum { FK_U8, FK_U16, FK_U32, FK_I32, FK_F64, FK_ENUM };

/* Name prefixes of fields repeated per item: alarm type, relay, input. */
enum { PFX_NONE = 0, PFX_AL, PFX_DO, PFX_DI };

typedef struct rm_field {
	const char *name;
	uint8_t type; /* register type */
	uint8_t fk;   /* C type of the field */
	uint16_t off; /* offsetof(bm_settings, ...) for circuit 1 / input I1 / item 0 */
	uint16_t cstride; /* bytes between circuits (0: meter-wide) */
	uint16_t istride; /* bytes between the items of a block (alarm types, relays, inputs) */
	uint8_t pfx;      /* PFX_*: the item's name prefix */
	const char *unit;
	const char *desc;
} rm_field;

#define OFF(m) ((uint16_t)offsetof(bm_settings, m))
#define CS ((uint16_t)sizeof(bm_circuit_cfg))
#define FLD(n, t, k, m, cs, u, d) {n, t, k, OFF(m), cs, 0, PFX_NONE, u, d}
#define FLDI(n, t, k, m, cs, is, pfx, u, d) {n, t, k, OFF(m), cs, is, pfx, u, d}
#define ALS ((uint16_t)sizeof(bm_al_cfg))
#define ALC ((uint16_t)(sizeof(bm_al_cfg) * BM_AL_TYPE_COUNT))
#define DOS ((uint16_t)sizeof(bm_do_cfg))
#define DIS ((uint16_t)sizeof(bm_di_cfg))

enum {
	F_NOMINAL_HZ, F_VT_RATIO, F_U_NOMINAL, F_U_MIN,
	F_UCAL0, /* 9 fields: U1 gain, phase, offset, U2 ..., U3 ... */
	F_TARIFF_SELECT = F_UCAL0 + 9, F_TARIFF_MODE, F_N_PERIODS, F_DEMAND_METHOD, F_DEMAND_PERIOD, F_MM_CLEAR,
	F_FREEZE_DAY, F_FREEZE_HOUR, F_UTC_OFFSET,
	F_RS485, F_ADDRESS, F_BAUD, F_PARITY, F_STOP, F_TCP, F_TCP_PORT, F_DHCP, F_IP, F_MASK, F_GW, F_WEB,
	F_WEB_PORT, F_FTP, F_FTP_PORT, F_LANG, F_KEYTONE, F_BACKLIGHT, F_BRIGHT,
	F_WIRING, F_IMIN, F_LOADTH,
	F_IN0, /* 7 fields per input: type, primary, secondary, nominal, gain, phase, offset; ×4 inputs */
	F_AL_EN = F_IN0 + 28, F_AL_BUZ, F_AL_RELAYS, F_AL_THR, F_AL_REL, F_AL_DELAY,
	F_DO_MODE, F_DO_PULSE, F_DO_DELAY, F_DO_HOLD, F_DO_PULSE_S,
	F_DI_ALARM, F_DI_LEVEL, F_DI_BUZ, F_DI_RELAYS, F_DI_DELAY,
	F_COUNT
};

#define UCAL(k) \
	FLD("U" #k ".cal_gain", BM_RT_F32, FK_F64, meter.ucal[k - 1].gain, 0, "", "Voltage input U" #k " gain calibration, 0.5..2"), \
	FLD("U" #k ".cal_phase", BM_RT_F32, FK_F64, meter.ucal[k - 1].phase_deg, 0, "deg", \
	    "Voltage input U" #k " phase calibration (lag advanced), within 4 samples"), \
	FLD("U" #k ".cal_offset", BM_RT_F32, FK_F64, meter.ucal[k - 1].offset, 0, "V", \
	    "Voltage input U" #k " offset (zero drift), secondary V, -100..100")
#define INPUT(p, nm) \
	FLD(nm ".type", BM_RT_U16, FK_ENUM, meter.circuit[0].sensor[p].type, CS, "", \
	    "Sensor type of " nm ": 0 CT, 1 voltage CT (VCT), 2 Rogowski coil (RCOIL)"), \
	FLD(nm ".primary", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].primary_a, CS, "A", \
	    "Sensor primary rating of " nm ", 1..999999 A"), \
	FLD(nm ".secondary", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].secondary, CS, "A or mV", \
	    "Sensor secondary of " nm ": CT 0.001..10 A; VCT / RCOIL 1..99999 mV"), \
	FLD(nm ".nominal", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].nominal_a, CS, "A", \
	    "Nominal current (range) of " nm ", 0.001..999999 A"), \
	FLD(nm ".cal_gain", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].cal.gain, CS, "", \
	    "Gain calibration of " nm ", 0.5..2"), \
	FLD(nm ".cal_phase", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].cal.phase_deg, CS, "deg", \
	    "Phase calibration of " nm " (sensor lag advanced), within 4 samples"), \
	FLD(nm ".cal_offset", BM_RT_F32, FK_F64, meter.circuit[0].sensor[p].cal.offset, CS, "A or V", \
	    "Offset (zero drift) of " nm ", secondary units, -10..10")

static const rm_field fields[F_COUNT] = {
	FLD("nominal_hz", BM_RT_U16, FK_U8, meter.nominal_hz, 0, "Hz", "Nominal frequency: 50 or 60 (windows of 10 / 12 cycles)"),
	FLD("vt_ratio", BM_RT_F32, FK_F64, meter.vt_ratio, 0, "", "VT ratio, 1..10000"),
	FLD("u_nominal", BM_RT_F32, FK_F64, meter.u_nominal_v, 0, "V", "Nominal phase voltage, primary, 1..1000000 V"),
	FLD("u_min", BM_RT_F32, FK_F64, meter.u_min_v, 0, "V", "Minimum measuring voltage: below it U reads 0; 0..nominal"),
	UCAL(1), UCAL(2), UCAL(3),
	FLD("tariff_select", BM_RT_U16, FK_U8, metering.manual_tariff, 0, "", "Manual mode tariff 1..6 (spec register 1071)"),
	FLD("tariff_mode", BM_RT_U16, FK_ENUM, metering.tariff_mode, 0, "", "Tariff switching: 0 manual, 1 RTC (time periods)"),
	FLD("periods", BM_RT_U16, FK_U8, metering.n_periods, 0, "", "RTC periods in use, 1..6 (Ta..Tf)"),
	FLD("demand_method", BM_RT_U16, FK_ENUM, metering.demand_method, 0, "", "Demand: 0 fixed (block), 1 sliding (1-minute steps)"),
	FLD("demand_period", BM_RT_U16, FK_U8, metering.demand_period_min, 0, "min", "Demand period, 1..60 min (default 15)"),
	FLD("maxmin_clear", BM_RT_U16, FK_ENUM, metering.mm_clear, 0, "", "Periodic max/min clearing: 0 never, 1 daily, 2 monthly"),
	FLD("freeze_day", BM_RT_U16, FK_U8, metering.freeze_day, 0, "", "Monthly freeze day, 1..28 (local time)"),
	FLD("freeze_hour", BM_RT_U16, FK_U8, metering.freeze_hour, 0, "h", "Monthly freeze hour, 0..23 (local time)"),
	FLD("utc_offset", BM_RT_I32, FK_I32, metering.utc_offset_s, 0, "s", "Local time = UTC + this, -43200..50400 s"),
	FLD("rs485_enabled", BM_RT_U16, FK_U8, comm.rs485_enabled, 0, "", "RS485 port: 0 disabled, 1 enabled"),
	FLD("address", BM_RT_U16, FK_U8, comm.address, 0, "", "Modbus-RTU device address, 1..247 (default 1)"),
	FLD("baud", BM_RT_U32, FK_U32, comm.baud, 0, "bit/s", "RS485 baud rate: 2400, 4800, 9600, 19200, 38400, 57600, 115200"),
	FLD("parity", BM_RT_U16, FK_U8, comm.parity, 0, "", "RS485 parity: 0 none, 1 odd, 2 even"),
	FLD("stop_bits", BM_RT_U16, FK_U8, comm.stop_bits, 0, "", "RS485 stop bits: 1 or 2"),
	FLD("tcp_enabled", BM_RT_U16, FK_U8, comm.tcp_enabled, 0, "", "Modbus-TCP: 0 disabled, 1 enabled"),
	FLD("tcp_port", BM_RT_U16, FK_U16, comm.tcp_port, 0, "", "Modbus-TCP port, 1..65535 (default 502)"),
	FLD("dhcp", BM_RT_U16, FK_U8, comm.dhcp, 0, "", "LAN: 0 static address, 1 DHCP"),
	FLD("ip", BM_RT_U32, FK_U32, comm.ip, 0, "", "LAN IPv4 address (a.b.c.d as a·2^24 + b·2^16 + c·2^8 + d)"),
	FLD("netmask", BM_RT_U32, FK_U32, comm.netmask, 0, "", "LAN subnet mask (IPv4 as ip)"),
	FLD("gateway", BM_RT_U32, FK_U32, comm.gateway, 0, "", "LAN gateway (IPv4 as ip)"),
	FLD("web_enabled", BM_RT_U16, FK_U8, comm.web_enabled, 0, "", "Web server: 0 disabled, 1 enabled"),
	FLD("web_port", BM_RT_U16, FK_U16, comm.web_port, 0, "", "Web server port, 1..65535 (default 80)"),
	FLD("ftp_enabled", BM_RT_U16, FK_U8, comm.ftp_enabled, 0, "", "FTP server: 0 disabled, 1 enabled"),
	FLD("ftp_port", BM_RT_U16, FK_U16, comm.ftp_port, 0, "", "FTP server port, 1..65535 (default 21)"),
	FLD("language", BM_RT_U16, FK_U8, hmi.language, 0, "", "Display language: 0 Chinese, 1 English"),
	FLD("key_tone", BM_RT_U16, FK_U8, hmi.key_tone, 0, "", "Key tone: 0 off, 1 on"),
	FLD("backlight", BM_RT_U16, FK_U8, hmi.backlight_min, 0, "min", "Backlight off after: 0 never, 1..5 min"),
	FLD("brightness", BM_RT_U16, FK_U8, hmi.brightness, 0, "", "Backlight brightness, 1..5"),
	FLD("wiring", BM_RT_U16, FK_ENUM, meter.circuit[0].wiring, CS, "",
	    "Wiring mode: 0 3P4W_4CT, 1 3P4W_3CT, 2 3P3W_3CT, 3 3P3W_2CT, 4 1P3W, 5 1P2W"),
	FLD("i_min", BM_RT_F32, FK_F64, meter.circuit[0].i_min_a, CS, "A", "Minimum measuring current: below it I reads 0; 0..1000000 A"),
	FLD("load_threshold", BM_RT_F32, FK_F64, metering.load_threshold_a[0], (uint16_t)sizeof(double), "A",
	    "Load time counts while the largest phase current exceeds this, 0..1000000 A"),
	INPUT(0, "I1"), INPUT(1, "I2"), INPUT(2, "I3"), INPUT(3, "In"),
	FLDI("enabled", BM_RT_U16, FK_U8, io.al[0][0].enabled, ALC, ALS, PFX_AL, "", "0 disabled, 1 enabled"),
	FLDI("buzzer", BM_RT_U16, FK_U8, io.al[0][0].buzzer, ALC, ALS, PFX_AL, "", "1: sounds the buzzer while active"),
	FLDI("relays", BM_RT_U16, FK_U8, io.al[0][0].relay_mask, ALC, ALS, PFX_AL, "",
	     "relays it drives in alarm mode: bit 0 relay 1 .. bit 3 relay 4"),
	FLDI("threshold", BM_RT_F32, FK_F64, io.al[0][0].threshold, ALC, ALS, PFX_AL, "(type's)",
	     "activation threshold, in the alarm type's unit"),
	FLDI("release", BM_RT_F32, FK_F64, io.al[0][0].release_pct, ALC, ALS, PFX_AL, "%",
	     "release point, % of the threshold: over alarms 50..100, under alarms 100..200"),
	FLDI("delay", BM_RT_F32, FK_F64, io.al[0][0].delay_s, ALC, ALS, PFX_AL, "s", "activation delay, 0..3600 s"),
	FLDI("mode", BM_RT_U16, FK_U8, io.dout[0].mode, 0, DOS, PFX_DO, "", "Relay mode: 0 manual (remote control), 1 alarm"),
	FLDI("pulse", BM_RT_U16, FK_U8, io.dout[0].pulse, 0, DOS, PFX_DO, "",
	     "Pulse mode: 1 closes for pulse_time at each command or alarm, then opens"),
	FLDI("delay", BM_RT_F32, FK_F64, io.dout[0].delay_s, 0, DOS, PFX_DO, "s", "Alarm mode: close this long after the alarm, 0..3600 s"),
	FLDI("hold", BM_RT_F32, FK_F64, io.dout[0].hold_s, 0, DOS, PFX_DO, "s", "Alarm mode: stay closed at least this long, 0..3600 s"),
	FLDI("pulse_time", BM_RT_F32, FK_F64, io.dout[0].pulse_s, 0, DOS, PFX_DO, "s", "Pulse length, 0.1..3600 s"),
	FLDI("alarm", BM_RT_U16, FK_U8, io.di[0].alarm, 0, DIS, PFX_DI, "", "Logic alarm from this input: 0 off, 1 on"),
	FLDI("level", BM_RT_U16, FK_U8, io.di[0].level, 0, DIS, PFX_DI, "", "Alarm while the input is 1 closed / 0 open"),
	FLDI("buzzer", BM_RT_U16, FK_U8, io.di[0].buzzer, 0, DIS, PFX_DI, "", "1: the input's alarm sounds the buzzer"),
	FLDI("relays", BM_RT_U16, FK_U8, io.di[0].relay_mask, 0, DIS, PFX_DI, "", "relays the input's alarm drives (bits)"),
	FLDI("delay", BM_RT_F32, FK_F64, io.di[0].delay_s, 0, DIS, PFX_DI, "s", "input alarm delay, 0..3600 s"),
};

/* ---- the table ----------------------------------------------------------- */

#define R BM_RA_R
#define RW BM_RA_RW
#define W BM_RA_W
#define LS BM_RM_LEVEL_SETTINGS
#define LR BM_RM_LEVEL_RESET
/* a meter-wide settings field at address a */
#define MF(a, f) {a, S_METER, K_FIELD, f, 1, 0, 0, RW, LS, NULL, NULL, NULL}
#define CF(a, f) {a, S_CCFG, K_FIELD, f, 1, 0, 0, RW, LS, NULL, NULL, NULL}
/* a settings field repeated for n items (alarm types, relays, inputs) */
#define FB(a, sc, f, n) {a, sc, K_FIELD, f, n, 0, 0, RW, LS, NULL, NULL, NULL}
#define INBLK(a, p) \
	CF(a, F_IN0 + 7 * (p)), CF(a + 1, F_IN0 + 7 * (p) + 1), CF(a + 3, F_IN0 + 7 * (p) + 2), \
	CF(a + 5, F_IN0 + 7 * (p) + 3), CF(a + 7, F_IN0 + 7 * (p) + 4), CF(a + 9, F_IN0 + 7 * (p) + 5), \
	CF(a + 11, F_IN0 + 7 * (p) + 6)
#define EKINDS 9
#define TKINDS 4

static const rm_block blocks[] = {
	/* identity and status */
	{0, S_METER, K_MAPVER, 0, 1, 1, BM_RT_U16, R, 0, "map_version", "", "Register map version (1)"},
	{1, S_METER, K_NCIRC, 0, 1, 1, BM_RT_U16, R, 0, "circuits", "", "Circuits this meter measures (1..4)"},
	{2, S_METER, K_FS, 0, 1, 2, BM_RT_U32, R, 0, "sample_rate", "S/s", "Sampling rate"},
	{4, S_METER, K_TARIFF, 0, 1, 1, BM_RT_U16, R, 0, "tariff", "", "Tariff in use, 1..6"},
	{5, S_METER, K_STATUS, 0, 1, 1, BM_RT_U16, R, 0, "status", "",
	 "Status bits: 0 frequency locked, 1 saved state restored at start"},
	{6, S_METER, K_WINDOWS, 0, 1, 2, BM_RT_U32, R, 0, "windows", "", "Measurement windows since start"},
	{8, S_METER, K_RUNTIME, 0, 1, 2, BM_RT_U32, R, 0, "run_time", "s", "Running time of the meter (kept across restarts)"},
	{10, S_METER, K_RTC, 0, 1, 2, BM_RT_U32, RW, LS, "rtc", "s", "Clock: Unix time (UTC); writing sets the clock"},
	{12, S_METER, K_DATETIME, 0, 1, 6, BM_RT_DATETIME, RW, LS, "datetime", "",
	 "Clock in local time: year, month, day, hour, minute, second (6 registers, written together)"},
	{20, S_METER, K_IDENT, 0, 1, 16, BM_RT_STR, R, 0, "vendor", "", "Vendor name"},
	{36, S_METER, K_IDENT, 1, 1, 16, BM_RT_STR, R, 0, "model", "", "Model (product code)"},
	{52, S_METER, K_IDENT, 2, 1, 8, BM_RT_STR, R, 0, "firmware", "", "Firmware version"},
	{60, S_METER, K_IDENT, 3, 1, 8, BM_RT_STR, R, 0, "serial", "", "Serial number"},
	/* passwords and commands */
	{1000, S_METER, K_UNLOCK, 0, 1, 1, BM_RT_U16, W, 0, "unlock", "",
	 "Write the settings password (unlocks settings) or the reset password (unlocks resets); reads 0"},
	{1001, S_METER, K_ACCESS, 0, 1, 1, BM_RT_U16, RW, 0, "access", "",
	 "Unlocked for this client: bit 0 settings, bit 1 resets; write 0 to lock"},
	{1002, S_METER, K_RESET, 0, 1, 1, BM_RT_U16, W, LR, "reset", "",
	 "Reset command: 1 energy, 2 max demand, 3 max/min, 4 tariff energy, 5 factory settings; reads 0"},
	{1003, S_METER, K_PASSWORD, 0, 1, 1, BM_RT_U16, W, LS, "settings_password", "",
	 "New settings password 0..9999 (default 1000); reads 0"},
	{1004, S_METER, K_PASSWORD, 1, 1, 1, BM_RT_U16, W, LR, "reset_password", "",
	 "New reset password 0..9999 (default 2000); reads 0"},
	{1005, S_METER, K_UNLOCK_LEFT, 0, 1, 1, BM_RT_U16, R, 0, "unlock_left", "s",
	 "Seconds until this client's unlock expires (0: locked)"},
	/* power grid (spec 7.5.1, 7.5.3) */
	MF(1010, F_NOMINAL_HZ), MF(1011, F_VT_RATIO), MF(1013, F_U_NOMINAL), MF(1015, F_U_MIN),
	MF(1017, F_UCAL0), MF(1019, F_UCAL0 + 1), MF(1021, F_UCAL0 + 2), MF(1023, F_UCAL0 + 3), MF(1025, F_UCAL0 + 4),
	MF(1027, F_UCAL0 + 5), MF(1029, F_UCAL0 + 6), MF(1031, F_UCAL0 + 7), MF(1033, F_UCAL0 + 8),
	/* tariffs: the spec's registers, then the whole table */
	MF(1071, F_TARIFF_SELECT),
	{1072, S_METER, K_P1072, 0, 1, 1, BM_RT_U16, W, LS, "period_start", "",
	 "Spec register 1072: period P (1..6 = Ta..Tf) starts at HH:MM, written as P*10000 + HH*100 + MM; reads 0"},
	{1073, S_METER, K_P1073, 0, 1, 1, BM_RT_U16, W, LS, "period_tariff", "",
	 "Spec register 1073: period P (1..6) uses tariff T (1..6), written as P*10 + T; reads 0"},
	MF(1080, F_TARIFF_MODE), MF(1081, F_N_PERIODS),
	{1082, S_METER, K_TSTART, 0, 6, 1, BM_RT_U16, RW, LS, ".start", "hhmm",
	 "start time, HH*100 + MM (ascending within the periods in use)"},
	{1088, S_METER, K_TTARIFF, 0, 6, 1, BM_RT_U16, RW, LS, ".tariff", "", "tariff, 1..6"},
	/* demand, max/min, freezes, clock zone (spec 7.5.5) */
	MF(1100, F_DEMAND_METHOD), MF(1101, F_DEMAND_PERIOD), MF(1102, F_MM_CLEAR), MF(1103, F_FREEZE_DAY),
	MF(1104, F_FREEZE_HOUR), MF(1105, F_UTC_OFFSET),
	{1107, S_METER, K_FIELD, 0xFFFF, 1, 4, BM_RT_U64, RW, LS, "rollover", "Wh",
	 "Energy registers wrap to 0 at this value, 1000..9.2e15 Wh (default 1e12)"},
	/* communication (spec 7.5.8) */
	MF(1120, F_RS485), MF(1121, F_ADDRESS), MF(1122, F_BAUD), MF(1124, F_PARITY), MF(1125, F_STOP),
	MF(1126, F_TCP), MF(1127, F_TCP_PORT), MF(1128, F_DHCP), MF(1129, F_IP), MF(1131, F_MASK), MF(1133, F_GW),
	MF(1135, F_WEB), MF(1136, F_WEB_PORT), MF(1137, F_FTP), MF(1138, F_FTP_PORT),
	/* display (spec 7.5.9) */
	MF(1150, F_LANG), MF(1151, F_KEYTONE), MF(1152, F_BACKLIGHT), MF(1153, F_BRIGHT),
	/* the event log (docs/events.md) */
	{1190, S_METER, K_EVLAST, 0, 1, 2, BM_RT_U32, R, 0, "events", "", "Number of the newest event (0: none yet)"},
	{1192, S_METER, K_EVSEL, 0, 1, 2, BM_RT_U32, RW, 0, "event_select", "",
	 "Event shown as E1, older ones follow (0: the newest); per connection, written alone"},
	{1200, S_METER, K_EVENT, 0, BM_RM_EVENTS * 8, 2, BM_RT_U32, R, 0, NULL, NULL, NULL},
	/* relays, digital inputs, buzzer (spec 5.9, 5.10.2, 7.5.7; KPM312 DI / DO; docs/alarms.md) */
	{1600, S_METER, K_IOSTAT, 0, 1, 1, BM_RT_U16, R, 0, "relays", "", "Relay states: bit r = relay r+1 closed"},
	{1601, S_METER, K_IOSTAT, 1, 1, 1, BM_RT_U16, R, 0, "inputs", "", "Digital inputs: bit i = input i+1 closed"},
	{1602, S_METER, K_IOSTAT, 2, 1, 1, BM_RT_U16, R, 0, "buzzer", "", "1 while an alarm with the buzzer is active"},
	{1603, S_METER, K_IOSTAT, 3, 1, 1, BM_RT_U16, R, 0, "input_alarms", "", "Input logic alarms active: bit i = input i+1"},
	{1604, S_METER, K_IOSTAT, 4, 1, 1, BM_RT_U16, R, 0, "alarms", "", "Circuits with an active alarm: bit c = circuit c+1"},
	{1610, S_METER, K_DOCMD, 0, BM_DO_MAX, 1, BM_RT_U16, RW, LS, "command", "",
	 "Manual mode: 1 closes, 0 opens (pulse mode: 1 closes for pulse_time); reads the last command; written alone"},
	FB(1620, S_METER, F_DO_MODE, BM_DO_MAX), FB(1624, S_METER, F_DO_PULSE, BM_DO_MAX),
	FB(1628, S_METER, F_DO_DELAY, BM_DO_MAX), FB(1636, S_METER, F_DO_HOLD, BM_DO_MAX),
	FB(1644, S_METER, F_DO_PULSE_S, BM_DO_MAX),
	FB(1660, S_METER, F_DI_ALARM, BM_DI_MAX), FB(1664, S_METER, F_DI_LEVEL, BM_DI_MAX),
	FB(1668, S_METER, F_DI_BUZ, BM_DI_MAX), FB(1672, S_METER, F_DI_RELAYS, BM_DI_MAX),
	FB(1676, S_METER, F_DI_DELAY, BM_DI_MAX),
	{1700, S_METER, K_DICOUNT, 0, BM_DI_MAX, 2, BM_RT_U32, R, 0, "count", "", "Changes counted (both edges)"},
	{1710, S_METER, K_SOE, 0, 16, 4, BM_RT_U64, R, 0, "time_ms", "ms", "Unix time in milliseconds (0: none)"},
	{1774, S_METER, K_SOE, 1, 16, 1, BM_RT_U16, R, 0, "input", "", "input number 1..4 (0: none)"},
	{1790, S_METER, K_SOE, 2, 16, 1, BM_RT_U16, R, 0, "state", "", "new state: 1 closed, 0 open"},

	/* circuit configuration (spec 7.5.1-7.5.3), stride BM_RM_CCFG_STRIDE */
	CF(2000, F_WIRING), CF(2001, F_IMIN),
	{2003, S_CCFG, K_CTRATIO, 0, 1, 2, BM_RT_F32, RW, LS, "ct_ratio", "",
	 "CT ratio of the CT inputs (I1's primary / secondary; NaN if I1 is no CT); writing sets every CT input's "
	 "primary to ratio x secondary, and scales its nominal"},
	CF(2005, F_LOADTH),
	INBLK(2010, 0), INBLK(2030, 1), INBLK(2050, 2), INBLK(2070, 3),

	/* circuit alarm configuration (spec 7.5.6), stride BM_RM_ACFG_STRIDE */
	FB(3000, S_ACFG, F_AL_EN, BM_AL_TYPE_COUNT), FB(3016, S_ACFG, F_AL_BUZ, BM_AL_TYPE_COUNT),
	FB(3032, S_ACFG, F_AL_RELAYS, BM_AL_TYPE_COUNT), FB(3048, S_ACFG, F_AL_THR, BM_AL_TYPE_COUNT),
	FB(3080, S_ACFG, F_AL_REL, BM_AL_TYPE_COUNT), FB(3112, S_ACFG, F_AL_DELAY, BM_AL_TYPE_COUNT),

	/* circuit measurement and metering, stride BM_RM_CIRCUIT_STRIDE */
	{10000, S_CIRC, K_Q, 0, BM_Q_COUNT, 2, BM_RT_F32, R, 0, NULL, NULL, NULL},
	{10200, S_CIRC, K_EF, 0, 4 * EKINDS, 2, BM_RT_F32, R, 0, NULL, NULL, NULL},
	{10300, S_CIRC, K_EI, 0, 4 * EKINDS, 4, BM_RT_I64, R, 0, NULL, NULL, NULL},
	{10500, S_CIRC, K_TF, 0, BM_MT_TARIFFS * TKINDS, 2, BM_RT_F32, R, 0, NULL, NULL, NULL},
	{10560, S_CIRC, K_TI, 0, BM_MT_TARIFFS * TKINDS, 4, BM_RT_I64, R, 0, NULL, NULL, NULL},
	{10700, S_CIRC, K_DEM, 0, 3, 2, BM_RT_F32, R, 0, "", NULL, "present demand (interval in progress)"},
	{10706, S_CIRC, K_DEM, 1, 3, 2, BM_RT_F32, R, 0, "_last", NULL, "last completed demand"},
	{10712, S_CIRC, K_DEM, 2, 3, 2, BM_RT_F32, R, 0, "_max", NULL, "maximum demand"},
	{10718, S_CIRC, K_DEM, 3, 3, 2, BM_RT_U32, R, 0, "_max_time", "s", "time of the maximum demand (Unix, end of its interval)"},
	{10750, S_CIRC, K_LOAD, 0, 1, 2, BM_RT_U32, R, 0, "load_time", "s",
	 "Load time: seconds with current above the load threshold"},
	{10752, S_CIRC, K_ALSTAT, 0, 1, 2, BM_RT_U32, R, 0, "alarms", "",
	 "Active alarms: bit n = alarm type n (docs/alarms.md: 0 over_i .. 15 over_ires)"},
	{10754, S_CIRC, K_AUX, 0, 1, 2, BM_RT_F32, R, 0, "temperature", "degC", "Temperature (expansion input)"},
	{10756, S_CIRC, K_AUX, 1, 1, 2, BM_RT_F32, R, 0, "residual", "mA", "Residual (zero-sequence) current (expansion input)"},
	{10800, S_CIRC, K_MM, 0, BM_MT_MM_COUNT, 2, BM_RT_F32, R, 0, "_max", NULL, "maximum"},
	{10850, S_CIRC, K_MM, 1, BM_MT_MM_COUNT, 2, BM_RT_U32, R, 0, "_max_time", "s", "time of the maximum (Unix)"},
	{10900, S_CIRC, K_MM, 2, BM_MT_MM_COUNT, 2, BM_RT_F32, R, 0, "_min", NULL, "minimum"},
	{10950, S_CIRC, K_MM, 3, BM_MT_MM_COUNT, 2, BM_RT_U32, R, 0, "_min_time", "s", "time of the minimum (Unix)"},
#define HBLK(k) {(uint16_t)(11000 + 98 * (k)), S_CIRC, K_H, k, BM_H_MAX - 1, 2, BM_RT_F32, R, 0, NULL, "%", NULL}
	HBLK(0), HBLK(1), HBLK(2), HBLK(3), HBLK(4), HBLK(5), HBLK(6),
#define MBLK(a) {(uint16_t)(12000 + 54 * (a)), S_CIRC, K_MONTH, a, 27, 2, BM_RT_F32, R, 0, NULL, NULL, NULL}
	MBLK(0), MBLK(1), MBLK(2), MBLK(3), MBLK(4), MBLK(5), MBLK(6), MBLK(7), MBLK(8), MBLK(9), MBLK(10), MBLK(11),
};
#define N_BLOCKS (sizeof blocks / sizeof blocks[0])

static const char *const ekind_name[EKINDS] = {"EP_imp", "EP_exp", "EQ_q1", "EQ_q2", "EQ_q3",
                                               "EQ_q4", "EQ_imp", "EQ_exp", "ES"};
static const char *const ekind_desc[EKINDS] = {
	"active energy import", "active energy export", "reactive energy quadrant 1 (import, inductive)",
	"reactive energy quadrant 2 (export, inductive)", "reactive energy quadrant 3 (export, capacitive)",
	"reactive energy quadrant 4 (import, capacitive)", "reactive energy import (Q1+Q2)",
	"reactive energy export (Q3+Q4)", "apparent energy"};
static const char *const ekind_unit_k[EKINDS] = {"kWh", "kWh", "kvarh", "kvarh", "kvarh", "kvarh", "kvarh", "kvarh", "kVAh"};
static const char *const ekind_unit[EKINDS] = {"Wh", "Wh", "varh", "varh", "varh", "varh", "varh", "varh", "VAh"};
/* tariff kinds → energy kinds */
static const uint8_t tkind_e[TKINDS] = {BM_MT_EP_IMP, BM_MT_EP_EXP, BM_MT_EQ_IMP, BM_MT_EQ_EXP};
static const char *const mm_name[BM_MT_MM_COUNT] = {
#define MMN(n) #n,
	BM_MT_MM_ITEMS(MMN)
#undef MMN
};
static const char *const dem_name[3] = {"DP", "DQ", "DS"};
static const char *const dem_unit[3] = {"W", "var", "VA"};
static const char *const hch_name[BM_PQ_CHANNELS] = {"HU1", "HU2", "HU3", "HI1", "HI2", "HI3", "HIn"};
static const char *const hch_desc[BM_PQ_CHANNELS] = {"U1", "U2", "U3", "I1", "I2", "I3", "In"};

/* ---- small string helpers (no stdio in the core) -------------------------- */


/* ---- locating ------------------------------------------------------------ */

static uint32_t scope_base(unsigned scope, unsigned c)
{
	if (scope == S_CCFG)
		return (uint32_t)c * BM_RM_CCFG_STRIDE;
	if (scope == S_ACFG)
		return (uint32_t)c * BM_RM_ACFG_STRIDE;
	if (scope == S_CIRC)
		return (uint32_t)c * BM_RM_CIRCUIT_STRIDE;
	return 0;
}

static unsigned item_regs(const rm_block *b);

/* What an item needs the model to have: "" if nothing (documents); with
 * caps, whether it is there. */
static const char *requires(const rm_block *b, unsigned c, unsigned item, const bm_io_caps *caps, bool *present)
{
	const char *need = "";
	bool ok = true;
	unsigned pfx = b->kind == K_FIELD && b->arg < F_COUNT ? fields[b->arg].pfx : PFX_NONE;
	static const char *const relay[BM_DO_MAX] = {"relay 1", "relay 2", "relay 3", "relay 4"};
	static const char *const input[BM_DI_MAX] = {"input 1", "input 2", "input 3", "input 4"};
	if (b->kind == K_DOCMD || pfx == PFX_DO) {
		need = relay[item];
		ok = !caps || item < caps->n_do;
	} else if (b->kind == K_DICOUNT || pfx == PFX_DI) {
		need = input[item];
		ok = !caps || item < caps->n_di;
	} else if (b->kind == K_SOE || (b->kind == K_IOSTAT && (b->arg == 1 || b->arg == 3))) {
		need = "inputs";
		ok = !caps || caps->n_di > 0;
	} else if (b->kind == K_IOSTAT && b->arg == 0) {
		need = "relay 1";
		ok = !caps || caps->n_do > 0;
	} else if ((b->kind == K_AUX && b->arg == 0) || (pfx == PFX_AL && item == BM_AL_OVER_T)) {
		need = "temperature";
		ok = !caps || (caps->temperature >> c & 1u);
	} else if ((b->kind == K_AUX && b->arg == 1) || (pfx == PFX_AL && item == BM_AL_OVER_IRES)) {
		need = "residual current";
		ok = !caps || (caps->residual >> c & 1u);
	}
	if (present)
		*present = ok;
	return need;
}

/* Finds the item holding `addr`: block, circuit (0 for meter-wide), item and
 * the register's offset in it. Circuits the view cannot see are not found.
 * The table is sorted by (scope, address), so this is a binary search. */
static bool locate(uint16_t addr, unsigned n_circuits, const bm_io_caps *caps, int view, const rm_block **blk,
                   unsigned *circuit, unsigned *item, unsigned *off)
{
	unsigned scope = S_METER, c = 0;
	uint32_t a = addr;
	if (a >= BM_RM_CIRCUIT_BASE) {
		scope = S_CIRC;
		c = (a - BM_RM_CIRCUIT_BASE) / BM_RM_CIRCUIT_STRIDE;
	} else if (a >= BM_RM_ACFG_BASE) {
		scope = S_ACFG;
		c = (a - BM_RM_ACFG_BASE) / BM_RM_ACFG_STRIDE;
	} else if (a >= BM_RM_CCFG_BASE) {
		scope = S_CCFG;
		c = (a - BM_RM_CCFG_BASE) / BM_RM_CCFG_STRIDE;
	}
	a -= scope_base(scope, c);
	const uint32_t key = (uint32_t)scope << 16 | a;
	size_t lo = 0, hi = N_BLOCKS; /* first block whose key is above `key` */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (((uint32_t)blocks[mid].scope << 16 | blocks[mid].addr) <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const rm_block *b = &blocks[lo - 1];
	const uint32_t r = item_regs(b);
	if (b->scope != scope || a >= (uint32_t)b->addr + (uint32_t)b->n * r)
		return false;
	if (scope != S_METER) {
		if (view >= 0) {
			if (c != 0)
				return false;
			c = (unsigned)view;
		}
		if (c >= n_circuits)
			return false;
	}
	bool present;
	requires(b, c, (a - b->addr) / r, caps, &present);
	if (!present)
		return false;
	*blk = b;
	*circuit = c;
	*item = (a - b->addr) / r;
	*off = (a - b->addr) % r;
	return true;
}

static unsigned item_regs(const rm_block *b)
{
	if (b->kind == K_FIELD && b->regs == 0)
		return fields[b->arg].type == BM_RT_F32 || fields[b->arg].type == BM_RT_U32 ||
		               fields[b->arg].type == BM_RT_I32
		           ? 2u
		           : 1u;
	return b->regs;
}

static unsigned item_type(const rm_block *b, unsigned item)
{
	if (b->kind == K_FIELD && b->regs == 0)
		return fields[b->arg].type;
	if (b->kind == K_MONTH && item < 2)
		return BM_RT_U32;
	if (b->kind == K_EVENT)
		return item % 8u >= 6 ? BM_RT_F32 : BM_RT_U32;
	return b->type;
}

/* ---- register codecs ----------------------------------------------------- */

void bm_rm_put_f32(uint16_t *regs, float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	regs[0] = (uint16_t)(u >> 16);
	regs[1] = (uint16_t)u;
}

float bm_rm_get_f32(const uint16_t *regs)
{
	uint32_t u = ((uint32_t)regs[0] << 16) | regs[1];
	float v;
	memcpy(&v, &u, sizeof v);
	return v;
}

void bm_rm_put_u64(uint16_t *regs, uint64_t v, unsigned n_regs)
{
	for (unsigned i = 0; i < n_regs; i++)
		regs[i] = (uint16_t)(v >> (16u * (n_regs - 1u - i)));
}

uint64_t bm_rm_get_u64(const uint16_t *regs, unsigned n_regs)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n_regs; i++)
		v = (v << 16) | regs[i];
	return v;
}

const char *bm_rm_type_name(unsigned type)
{
	static const char *const n[BM_RT_COUNT] = {"U16", "I16", "U32", "I32", "U64", "I64", "F32", "STR", "DATETIME"};
	return type < BM_RT_COUNT ? n[type] : "?";
}

/* ---- values ---------------------------------------------------------------- */

typedef struct rm_val {
	double f;      /* F32 */
	int64_t i;     /* integer types */
	const char *s; /* STR */
	uint16_t dt[6];
} rm_val;

static double field_get(const bm_settings *s, const rm_field *f, unsigned c, unsigned item)
{
	const unsigned char *p = (const unsigned char *)s + f->off + (size_t)f->cstride * c + (size_t)f->istride * item;
	switch (f->fk) {
	case FK_U8: return *(const uint8_t *)p;
	case FK_U16: return *(const uint16_t *)(const void *)p;
	case FK_U32: return *(const uint32_t *)(const void *)p;
	case FK_I32: return *(const int32_t *)(const void *)p;
	case FK_ENUM: return *(const int *)(const void *)p;
	default: return *(const double *)(const void *)p;
	}
}

/* Sets a field; false when the value does not fit its C type (it would
 * wrap into something valid-looking). */
static bool field_set(bm_settings *s, const rm_field *f, unsigned c, unsigned item, double v)
{
	unsigned char *p = (unsigned char *)s + f->off + (size_t)f->cstride * c + (size_t)f->istride * item;
	switch (f->fk) {
	case FK_U8:
		if (!(v >= 0 && v <= 255))
			return false;
		*(uint8_t *)p = (uint8_t)v;
		return true;
	case FK_U16:
		if (!(v >= 0 && v <= 65535))
			return false;
		*(uint16_t *)(void *)p = (uint16_t)v;
		return true;
	case FK_U32:
		if (!(v >= 0 && v <= 4294967295.0))
			return false;
		*(uint32_t *)(void *)p = (uint32_t)v;
		return true;
	case FK_I32:
		if (!(v >= -2147483648.0 && v <= 2147483647.0))
			return false;
		*(int32_t *)(void *)p = (int32_t)v;
		return true;
	case FK_ENUM:
		if (!(v >= 0 && v <= 255))
			return false;
		*(int *)(void *)p = (int)v;
		return true;
	default:
		if (!isfinite(v))
			return false;
		*(double *)(void *)p = v;
		return true;
	}
}

static bool is_ct(const bm_sensor_cfg *s)
{
	return s->type == BM_SENSOR_CT;
}

static int64_t ts(int64_t t)
{
	return t > 0 && t <= 0xFFFFFFFFll ? t : 0;
}

static bool session_has(const bm_rm_session *s, uint32_t now_s, unsigned level)
{
	return s && (s->level & level) == level && now_s < s->until_s;
}

static void value_of(const bm_rm_view *v, const bm_rm_session *ses, uint32_t now_s, const rm_block *b, unsigned c,
                     unsigned item, rm_val *out)
{
	memset(out, 0, sizeof *out);
	out->f = NAN;
	const bm_metering *mt = v->mt;
	const bm_settings *set = v->set;
	switch (b->kind) {
	case K_MAPVER: out->i = BM_RM_VERSION; break;
	case K_NCIRC: out->i = set ? set->meter.n_circuits : 0; break;
	case K_FS: out->i = set ? set->meter.sample_rate : 0; break;
	case K_TARIFF: out->i = mt ? bm_metering_tariff(mt) : 0; break;
	case K_STATUS: out->i = v->status; break;
	case K_WINDOWS: out->i = (int64_t)(v->windows & 0xFFFFFFFFu); break;
	case K_RUNTIME: out->i = mt ? (int64_t)bm_metering_run_time_s(mt) : 0; break;
	case K_RTC: out->i = ts(v->rtc_unix); break;
	case K_DATETIME: {
		bm_caltime t;
		bm_caltime_split(v->rtc_unix, set ? set->metering.utc_offset_s : 0, &t);
		out->dt[0] = (uint16_t)t.year;
		out->dt[1] = t.month;
		out->dt[2] = t.day;
		out->dt[3] = t.hour;
		out->dt[4] = t.minute;
		out->dt[5] = t.second;
		break;
	}
	case K_IDENT:
		out->s = !v->id ? "" : b->arg == 0 ? v->id->vendor : b->arg == 1 ? v->id->model
		                     : b->arg == 2 ? v->id->firmware : v->id->serial;
		break;
	case K_ACCESS: out->i = session_has(ses, now_s, 0) ? ses->level : 0; break;
	case K_UNLOCK_LEFT:
		out->i = ses && ses->level && now_s < ses->until_s ? (int64_t)(ses->until_s - now_s) : 0;
		break;
	case K_UNLOCK:
	case K_RESET:
	case K_PASSWORD:
	case K_P1072:
	case K_P1073: out->i = 0; break; /* write-only: passwords are never shown */
	case K_FIELD:
		if (!set)
			break;
		if (b->arg == 0xFFFF) { /* rollover, Wh as an integer */
			out->i = (int64_t)set->metering.rollover_wh;
		} else {
			double x = field_get(set, &fields[b->arg], c, item);
			out->f = x;
			out->i = (int64_t)x;
		}
		break;
	case K_TSTART:
		if (set) {
			unsigned m = set->metering.period[item].start_min;
			out->i = (int64_t)(m / 60u * 100u + m % 60u);
		}
		break;
	case K_TTARIFF: out->i = set ? set->metering.period[item].tariff : 0; break;
	case K_CTRATIO:
		if (set && is_ct(&set->meter.circuit[c].sensor[0]) && set->meter.circuit[c].sensor[0].secondary > 0)
			out->f = set->meter.circuit[c].sensor[0].primary_a / set->meter.circuit[c].sensor[0].secondary;
		break;
	case K_Q:
		if (v->r && c < v->r->n_circuits)
			out->f = v->r->v[c][item];
		break;
	case K_EF:
	case K_EI: {
		unsigned ph = item / EKINDS, k = item % EKINDS;
		unsigned phase = ph == 0 ? BM_MT_TOTAL : ph - 1; /* total first, then L1..L3 */
		if (mt) {
			out->f = bm_metering_energy_wh(mt, c, phase, (bm_mt_ekind)k) / 1000.0;
			out->i = bm_metering_energy_wh_i64(mt, c, phase, (bm_mt_ekind)k);
		}
		break;
	}
	case K_TF:
	case K_TI: {
		unsigned t = item / TKINDS + 1, k = item % TKINDS;
		if (mt) {
			out->f = bm_metering_tariff_wh(mt, c, t, (bm_mt_tkind)k) / 1000.0;
			out->i = bm_metering_tariff_wh_i64(mt, c, t, (bm_mt_tkind)k);
		}
		break;
	}
	case K_DEM: {
		bm_mt_demand d;
		if (mt && bm_metering_demand(mt, c, (bm_mt_dq)item, &d) == BM_OK) {
			out->f = b->arg == 0 ? d.present : b->arg == 1 ? d.last : d.max;
			out->i = isfinite(d.max) ? ts(d.max_unix) : 0;
		}
		break;
	}
	case K_LOAD: out->i = mt ? (int64_t)bm_metering_load_time_s(mt, c) : 0; break;
	case K_MM: {
		bm_mt_extreme mx, mn;
		if (mt && bm_metering_maxmin(mt, c, (bm_mt_mm)item, &mx, &mn) == BM_OK) {
			const bm_mt_extreme *e = b->arg < 2 ? &mx : &mn;
			out->f = e->value;
			out->i = isfinite(e->value) ? ts(e->unix_s) : 0;
		}
		break;
	}
	case K_H: {
		unsigned h = item + 2;
		if (v->r && set) {
			double f1 = bm_pq_harmonic_rms(v->r, &set->meter, c, b->arg, 1);
			double x = bm_pq_harmonic_rms(v->r, &set->meter, c, b->arg, h);
			out->f = f1 > 0.0 ? 100.0 * x / f1 : NAN;
		}
		break;
	}
	case K_IOSTAT:
		if (v->io) {
			uint32_t any = 0;
			for (unsigned k = 0; k < v->io->n_circuits; k++)
				any |= bm_io_alarm_status(v->io, k) ? 1u << k : 0u;
			out->i = b->arg == 0 ? v->io->do_state : b->arg == 1 ? v->io->di_state : b->arg == 2 ? v->io->buzzer
			       : b->arg == 3 ? (int64_t)bm_io_di_alarm_status(v->io) : (int64_t)any;
		}
		break;
	case K_DOCMD: out->i = v->io ? (v->io->do_manual >> item) & 1u : 0; break;
	case K_DICOUNT: out->i = v->io ? v->io->di_count[item] : 0; break;
	case K_SOE: {
		bm_soe e;
		if (v->io && bm_io_soe(v->io, item, &e) == BM_OK)
			out->i = b->arg == 0 ? e.rtc_ms : b->arg == 1 ? e.input + 1 : e.state;
		break;
	}
	case K_ALSTAT: out->i = v->io ? bm_io_alarm_status(v->io, c) : 0; break;
	case K_AUX: {
		const double *a = b->arg == 0 ? v->temp_c : v->res_ma;
		out->f = a ? a[c] : NAN;
		break;
	}
	case K_EVLAST: out->i = v->ev_get ? v->ev_last : 0; break;
	case K_EVSEL: out->i = ses ? ses->ev_sel : 0; break;
	case K_EVENT: {
		uint32_t top = ses && ses->ev_sel ? ses->ev_sel : v->ev_last, k = item / 8u;
		bm_event ev;
		if (!v->ev_get || top <= k || v->ev_get(v->ev_ctx, top - k, &ev) != BM_OK) {
			out->f = NAN;
			break;
		}
		switch (item % 8u) {
		case 0: out->i = ev.seq; break;
		case 1: out->i = ts(ev.time); break;
		case 2: out->i = ev.type; break;
		case 3: out->i = ev.source; break;
		case 4: out->i = ev.circuit + 1; break;
		case 5: out->i = ev.code; break;
		case 6: out->f = ev.value; break;
		default: out->f = ev.value2; break;
		}
		break;
	}
	case K_MONTH: {
		bm_mt_month m;
		if (!mt || bm_metering_month(mt, b->arg, &m) != BM_OK)
			break;
		if (item == 0)
			out->i = (int64_t)m.year * 100 + m.month;
		else if (item == 1)
			out->i = ts(m.freeze_unix);
		else if (item < 26)
			out->f = m.e_wh[c][(item - 2) / TKINDS][(item - 2) % TKINDS] / 1000.0;
		else
			out->f = m.pf[c];
		break;
	}
	default: break;
	}
}

static void encode(unsigned type, unsigned regs, const rm_val *val, uint16_t *out)
{
	switch (type) {
	case BM_RT_F32: bm_rm_put_f32(out, (float)val->f); break;
	case BM_RT_STR:
		for (unsigned i = 0; i < regs; i++) {
			unsigned char hi = 0, lo = 0;
			size_t n = val->s ? strlen(val->s) : 0;
			if (2 * i < n)
				hi = (unsigned char)val->s[2 * i];
			if (2 * i + 1 < n)
				lo = (unsigned char)val->s[2 * i + 1];
			out[i] = (uint16_t)((hi << 8) | lo);
		}
		break;
	case BM_RT_DATETIME: memcpy(out, val->dt, sizeof val->dt); break;
	default: bm_rm_put_u64(out, (uint64_t)val->i, regs); break;
	}
}

/* Checks that [addr, addr + count) is whole items the view has: one search
 * per block touched, then a walk along it. */
static int walk_check(uint16_t addr, uint16_t count, unsigned n_circuits, const bm_io_caps *caps, int view)
{
	uint32_t a = addr, end = (uint32_t)addr + count;
	while (a < end) {
		const rm_block *b;
		unsigned c, item, off;
		if (!locate((uint16_t)a, n_circuits, caps, view, &b, &c, &item, &off) || off != 0)
			return BM_MB_EX_ILLEGAL_ADDRESS;
		const unsigned r = item_regs(b);
		for (; item < b->n && a < end; item++) {
			if (a + r > end)
				return BM_MB_EX_ILLEGAL_ADDRESS;
			a += r;
		}
	}
	return 0;
}

int bm_rm_read(const bm_rm_view *v, const bm_rm_session *s, uint32_t now_s, int circuit_view, uint16_t addr,
               uint16_t count, uint16_t *regs)
{
	if (!v || !regs || count == 0)
		return BM_MB_EX_ILLEGAL_VALUE;
	unsigned nc = v->set ? v->set->meter.n_circuits : 0;
	const bm_io_caps *caps = v->set ? &v->set->caps : NULL;
	/* checked first, so a refused read leaves regs untouched */
	int ex = walk_check(addr, count, nc, caps, circuit_view);
	if (ex)
		return ex;
	uint32_t a = addr, end = (uint32_t)addr + count;
	while (a < end) {
		const rm_block *b;
		unsigned c, item, off;
		locate((uint16_t)a, nc, caps, circuit_view, &b, &c, &item, &off);
		const unsigned r = item_regs(b);
		for (; item < b->n && a < end; item++) {
			rm_val val;
			value_of(v, s, now_s, b, c, item, &val);
			encode(item_type(b, item), r, &val, regs + (a - addr));
			a += r;
		}
	}
	return 0;
}

/* ---- writes ---------------------------------------------------------------- */

/* The universal password: the serial number's last four digits (spec 7.5). */
static int universal_password(const bm_rm_ident *id)
{
	if (!id)
		return -1;
	size_t n = strlen(id->serial);
	int v = 0, digits = 0;
	for (size_t i = n; i > 0 && digits < 4; i--) {
		char ch = id->serial[i - 1];
		if (ch < '0' || ch > '9')
			break;
		int mul = 1;
		for (int k = 0; k < digits; k++)
			mul *= 10;
		v += (ch - '0') * mul;
		digits++;
	}
	return digits == 4 ? v : -1;
}

static int do_unlock(const bm_rm_view *v, bm_rm_session *s, uint32_t now_s, unsigned pw, const char **what)
{
	if (now_s < s->lockout_s) {
		*what = "too many wrong passwords: unlock refused for a minute";
		return BM_MB_EX_ILLEGAL_VALUE;
	}
	unsigned lvl = 0;
	if (v->set && pw == v->set->settings_password)
		lvl |= BM_RM_LEVEL_SETTINGS;
	if (v->set && pw == v->set->reset_password)
		lvl |= BM_RM_LEVEL_RESET;
	if ((int)pw == universal_password(v->id))
		lvl |= BM_RM_LEVEL_SETTINGS | BM_RM_LEVEL_RESET;
	if (!lvl) {
		s->level = 0;
		s->until_s = 0;
		if (++s->fails >= BM_RM_MAX_FAILS) {
			s->fails = 0;
			s->lockout_s = now_s + BM_RM_LOCKOUT_S;
		}
		*what = "wrong password";
		return BM_MB_EX_ILLEGAL_VALUE;
	}
	s->fails = 0;
	/* a second password adds its level to one still unlocked */
	s->level = (uint8_t)((now_s < s->until_s ? s->level : 0u) | lvl);
	s->until_s = now_s + BM_RM_UNLOCK_S;
	return 0;
}

/* Decodes an item's registers as a number of its type. */
static double decode_num(unsigned type, unsigned regs, const uint16_t *p)
{
	switch (type) {
	case BM_RT_F32: return bm_rm_get_f32(p);
	case BM_RT_I16: return (int16_t)p[0];
	case BM_RT_I32: return (int32_t)(uint32_t)bm_rm_get_u64(p, 2);
	case BM_RT_I64: return (double)(int64_t)bm_rm_get_u64(p, 4);
	default: return (double)bm_rm_get_u64(p, regs);
	}
}

/* Applies one item to the staged settings. 0 or an exception code. */
static int stage_item(bm_settings *st, const rm_block *b, unsigned c, unsigned item, const uint16_t *p,
                      const char **what)
{
	unsigned type = item_type(b, item), regs = item_regs(b);
	double x = decode_num(type, regs, p);
	bm_metering_cfg *m = &st->metering;
	switch (b->kind) {
	case K_FIELD:
		if (b->arg == 0xFFFF) {
			m->rollover_wh = x;
			return 0;
		}
		if (!field_set(st, &fields[b->arg], c, item, x)) {
			*what = fields[b->arg].name;
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		return 0;
	case K_PASSWORD:
		if (x > BM_PASSWORD_MAX) {
			*what = "passwords are 0..9999";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		if (b->arg == 0)
			st->settings_password = (uint16_t)x;
		else
			st->reset_password = (uint16_t)x;
		return 0;
	case K_TSTART:
	case K_P1072: {
		unsigned val = (unsigned)x, per = item, hhmm = val;
		if (b->kind == K_P1072) {
			per = val / 10000u;
			hhmm = val % 10000u;
			if (per < 1 || per > BM_MT_PERIODS) {
				*what = "period_start: P*10000 + HHMM with P 1..6";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
			per--;
		}
		if (hhmm / 100u > 23 || hhmm % 100u > 59) {
			*what = "start time: HH*100 + MM with HH 0..23, MM 0..59";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		if (b->kind == K_P1072 && per > m->n_periods) {
			*what = "period_start: periods are set in order (Ta first)";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		if (b->kind == K_P1072 && per == m->n_periods) { /* the next period: appended */
			m->period[per].tariff = m->period[per - 1].tariff;
			m->n_periods++;
		}
		m->period[per].start_min = (uint16_t)(hhmm / 100u * 60u + hhmm % 100u);
		return 0;
	}
	case K_TTARIFF:
	case K_P1073: {
		unsigned val = (unsigned)x, per = item, t = val;
		if (b->kind == K_P1073) {
			per = val / 10u;
			t = val % 10u;
			if (per < 1 || per > m->n_periods) {
				*what = "period_tariff: P*10 + T with P a period in use";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
			per--;
		}
		if (t < 1 || t > BM_MT_TARIFFS) {
			*what = "tariff must be 1..6";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		m->period[per].tariff = (uint8_t)t;
		return 0;
	}
	case K_CTRATIO: {
		if (!(isfinite(x) && x >= 1.0 && x <= 10000.0)) {
			*what = "ct_ratio must be 1..10000";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		bool any = false;
		for (unsigned in = 0; in < BM_PHASE_INPUTS; in++) {
			bm_sensor_cfg *s = &st->meter.circuit[c].sensor[in];
			if (!is_ct(s))
				continue;
			double old = s->primary_a;
			s->primary_a = x * s->secondary;
			s->nominal_a = old > 0 ? s->nominal_a * s->primary_a / old : s->primary_a;
			any = true;
		}
		if (!any) {
			*what = "ct_ratio: this circuit has no CT inputs";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		return 0;
	}
	default:
		*what = "not writable";
		return BM_MB_EX_ILLEGAL_ADDRESS;
	}
}

static bool is_action(unsigned kind)
{
	return kind == K_UNLOCK || kind == K_ACCESS || kind == K_RESET || kind == K_RTC || kind == K_DATETIME ||
	       kind == K_EVSEL || kind == K_DOCMD;
}

int bm_rm_write(const bm_rm_view *v, bm_rm_session *s, uint32_t now_s, int circuit_view,
                const bm_rm_actions *act, void *ctx, uint16_t addr, uint16_t count, const uint16_t *regs,
                const char **what)
{
	const char *dummy;
	if (!what)
		what = &dummy;
	*what = NULL;
	if (!v || !v->set || !s || !act || !regs || count == 0)
		return BM_MB_EX_DEVICE_FAILURE;
	unsigned nc = v->set->meter.n_circuits;
	const bm_io_caps *caps = &v->set->caps;
	int ex = walk_check(addr, count, nc, caps, circuit_view);
	if (ex) {
		*what = "no such register (or part of one)";
		return ex;
	}
	/* first pass: access, level, and whether this is one action */
	uint32_t a = addr, end = (uint32_t)addr + count;
	unsigned items = 0, need = 0;
	const rm_block *first = NULL;
	unsigned first_c = 0, first_item = 0;
	bool action = false;
	while (a < end) {
		const rm_block *b;
		unsigned c, item, off;
		locate((uint16_t)a, nc, caps, circuit_view, &b, &c, &item, &off);
		if (b->access == BM_RA_R) {
			*what = "read-only register";
			return BM_MB_EX_ILLEGAL_ADDRESS;
		}
		need |= b->level;
		if (is_action(b->kind))
			action = true;
		if (!first) {
			first = b;
			first_c = c;
			first_item = item;
		}
		items++;
		a += item_regs(b);
	}
	if (action && items != 1) {
		*what = "a command register is written alone";
		return BM_MB_EX_ILLEGAL_VALUE;
	}
	if (need && !session_has(s, now_s, need)) {
		*what = need & BM_RM_LEVEL_RESET ? "locked: write the reset password to 'unlock' first"
		                                 : "locked: write the settings password to 'unlock' first";
		return BM_MB_EX_ILLEGAL_ADDRESS;
	}
	if (action) {
		const rm_block *b = first;
		if (b->kind == K_UNLOCK)
			return do_unlock(v, s, now_s, regs[0], what);
		if (b->kind == K_EVSEL) {
			s->ev_sel = (uint32_t)bm_rm_get_u64(regs, 2);
			return 0;
		}
		if (b->kind == K_ACCESS) {
			if (regs[0] != 0) {
				*what = "write 0 to lock; unlock through 'unlock'";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
			s->level = 0;
			s->until_s = 0;
			return 0;
		}
		if (b->kind == K_DOCMD) {
			if (regs[0] > 1) {
				*what = "relay command: 1 close, 0 open";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
			int ex2 = act->relay ? act->relay(ctx, first_item, regs[0] == 1) : BM_MB_EX_DEVICE_FAILURE;
			if (ex2 == 0)
				s->until_s = now_s + BM_RM_UNLOCK_S;
			else
				*what = "the relay is in alarm mode (set its mode to 0, manual)";
			return ex2;
		}
		if (b->kind == K_RESET) {
			if (regs[0] < 1 || regs[0] >= BM_RM_RESET_COUNT) {
				*what = "reset: 1 energy, 2 max demand, 3 max/min, 4 tariff energy, 5 factory settings";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
			s->until_s = now_s + BM_RM_UNLOCK_S; /* an accepted protected write extends the unlock */
			return act->reset ? act->reset(ctx, (bm_rm_reset)regs[0]) : BM_MB_EX_DEVICE_FAILURE;
		}
		int64_t t;
		if (b->kind == K_RTC) {
			t = (int64_t)bm_rm_get_u64(regs, 2);
		} else {
			bm_caltime ct = {(int32_t)regs[0], (uint8_t)(regs[1] > 255 ? 0 : regs[1]),
			                 (uint8_t)(regs[2] > 255 ? 0 : regs[2]), (uint8_t)(regs[3] > 255 ? 99 : regs[3]),
			                 (uint8_t)(regs[4] > 255 ? 99 : regs[4]), (uint8_t)(regs[5] > 255 ? 99 : regs[5]), 0};
			if (regs[0] < 2000 || regs[0] > 2099 ||
			    bm_caltime_join(&ct, v->set->metering.utc_offset_s, &t) != BM_OK) {
				*what = "datetime: year 2000..2099, then a valid month, day, hour, minute, second";
				return BM_MB_EX_ILLEGAL_VALUE;
			}
		}
		if (t < 946684800 || t > 4102444799) { /* 2000-01-01 .. 2099-12-31 */
			*what = "clock: 2000..2099";
			return BM_MB_EX_ILLEGAL_VALUE;
		}
		s->until_s = now_s + BM_RM_UNLOCK_S;
		return act->set_clock ? act->set_clock(ctx, t) : BM_MB_EX_DEVICE_FAILURE;
	}
	(void)first_c;
	/* settings: stage every item on a copy, validate the whole, commit once */
	bm_settings st = *v->set;
	a = addr;
	while (a < end) {
		const rm_block *b;
		unsigned c, item, off;
		locate((uint16_t)a, nc, caps, circuit_view, &b, &c, &item, &off);
		ex = stage_item(&st, b, c, item, regs + (a - addr), what);
		if (ex)
			return ex;
		a += item_regs(b);
	}
	bm_cfg_issue is;
	if (bm_settings_validate(&st, &is) != BM_OK) {
		*what = is.reason;
		return BM_MB_EX_ILLEGAL_VALUE;
	}
	s->until_s = now_s + BM_RM_UNLOCK_S;
	return act->commit ? act->commit(ctx, &st) : BM_MB_EX_DEVICE_FAILURE;
}

const char *bm_rm_devid(const bm_rm_ident *id, uint8_t object_id)
{
	if (!id)
		return NULL;
	switch (object_id) {
	case BM_MB_ID_VENDOR: return id->vendor;
	case BM_MB_ID_PRODUCT_CODE: return id->model;
	case BM_MB_ID_REVISION: return id->firmware;
	case BM_MB_ID_VENDOR_URL: return "https://github.com/branchmeter/branchmeter";
	case BM_MB_ID_PRODUCT_NAME: return "branchmeter multi-circuit power meter";
	case BM_MB_ID_MODEL_NAME: return id->model;
	case BM_MB_ID_APP_NAME: return "branchmeter";
	default: return NULL;
	}
}

/* ---- the table as documents ------------------------------------------------ */

static void describe(const rm_block *b, unsigned c, unsigned item, bm_rm_info *o)
{
	sbuf nm = {o->name, sizeof o->name, 0}, ds = {o->desc, sizeof o->desc, 0};
	o->name[0] = o->desc[0] = '\0';
	o->unit = b->unit ? b->unit : "";
	o->regs = (uint8_t)item_regs(b);
	o->type = (uint8_t)item_type(b, item);
	o->access = b->access;
	o->level = b->level;
	o->circuit = (int8_t)(b->scope == S_METER ? -1 : (int)c);
	o->requires = requires(b, c, item, NULL, NULL);
	if (b->scope != S_METER) {
		s_put(&nm, "C");
		s_uint(&nm, c + 1);
		s_put(&nm, ".");
	}
	switch (b->kind) {
	case K_FIELD:
		if (b->arg == 0xFFFF) {
			s_put(&nm, b->name);
			s_put(&ds, b->desc);
			break;
		}
		switch (fields[b->arg].pfx) {
		case PFX_AL:
			s_put(&nm, bm_al_table[item].name);
			s_put(&nm, ".");
			s_put(&ds, bm_al_table[item].desc);
			s_put(&ds, ": ");
			break;
		case PFX_DO:
			s_put(&nm, "DO");
			s_uint(&nm, item + 1u);
			s_put(&nm, ".");
			s_put(&ds, "Relay ");
			s_uint(&ds, item + 1u);
			s_put(&ds, ": ");
			break;
		case PFX_DI:
			s_put(&nm, "DI");
			s_uint(&nm, item + 1u);
			s_put(&nm, ".");
			s_put(&ds, "Input ");
			s_uint(&ds, item + 1u);
			s_put(&ds, ": ");
			break;
		default: break;
		}
		s_put(&nm, fields[b->arg].name);
		o->unit = fields[b->arg].unit;
		if (fields[b->arg].pfx == PFX_AL && b->arg == F_AL_THR)
			o->unit = bm_al_table[item].unit;
		s_put(&ds, fields[b->arg].desc);
		break;
	case K_DOCMD:
	case K_DICOUNT:
		s_put(&nm, b->kind == K_DOCMD ? "DO" : "DI");
		s_uint(&nm, item + 1u);
		s_put(&nm, ".");
		s_put(&nm, b->name);
		s_put(&ds, b->kind == K_DOCMD ? "Relay " : "Input ");
		s_uint(&ds, item + 1u);
		s_put(&ds, ": ");
		s_put(&ds, b->desc);
		break;
	case K_SOE:
		s_put(&nm, "SOE");
		s_uint(&nm, item + 1u);
		s_put(&nm, ".");
		s_put(&nm, b->name);
		s_put(&ds, "Input change ");
		s_uint(&ds, item + 1u);
		s_put(&ds, item ? " (older): " : " (newest): ");
		s_put(&ds, b->desc);
		break;
	case K_TSTART:
	case K_TTARIFF: {
		char per[3] = {'T', (char)('a' + item), '\0'};
		s_put(&nm, per);
		s_put(&nm, b->name);
		s_put(&ds, "Period ");
		s_put(&ds, per);
		s_put(&ds, " ");
		s_put(&ds, b->desc);
		break;
	}
	case K_Q:
		s_put(&nm, bm_quantity_table[item].name);
		o->unit = bm_quantity_table[item].unit;
		s_put(&ds, bm_quantity_table[item].desc);
		break;
	case K_EF:
	case K_EI: {
		unsigned ph = item / EKINDS, k = item % EKINDS;
		if (ph) {
			s_put(&nm, "L");
			s_uint(&nm, ph);
			s_put(&nm, ".");
		}
		s_put(&nm, ekind_name[k]);
		if (b->kind == K_EI)
			s_put(&nm, k < 2 ? "_Wh" : k < 8 ? "_varh" : "_VAh");
		o->unit = b->kind == K_EF ? ekind_unit_k[k] : ekind_unit[k];
		s_put(&ds, ph ? "Phase L" : "Total ");
		if (ph) {
			s_uint(&ds, ph);
			s_put(&ds, " ");
		}
		s_put(&ds, ekind_desc[k]);
		s_put(&ds, b->kind == K_EI ? " (64-bit integer)" : "");
		break;
	}
	case K_TF:
	case K_TI: {
		unsigned t = item / TKINDS + 1, k = tkind_e[item % TKINDS];
		s_put(&nm, "T");
		s_uint(&nm, t);
		s_put(&nm, ".");
		s_put(&nm, ekind_name[k]);
		if (b->kind == K_TI)
			s_put(&nm, k < 2 ? "_Wh" : "_varh");
		o->unit = b->kind == K_TF ? ekind_unit_k[k] : ekind_unit[k];
		s_put(&ds, "Tariff T");
		s_uint(&ds, t);
		s_put(&ds, " ");
		s_put(&ds, ekind_desc[k]);
		s_put(&ds, b->kind == K_TI ? " (64-bit integer)" : "");
		break;
	}
	case K_DEM:
		s_put(&nm, dem_name[item]);
		s_put(&nm, b->name);
		if (!b->unit)
			o->unit = dem_unit[item];
		s_put(&ds, item == 0 ? "Total P: " : item == 1 ? "Total Q: " : "Total S: ");
		s_put(&ds, b->desc);
		break;
	case K_MM:
		s_put(&nm, mm_name[item]);
		s_put(&nm, b->name);
		if (!b->unit)
			o->unit = bm_quantity_table[bm_quantity_find(mm_name[item])].unit;
		s_put(&ds, mm_name[item]);
		s_put(&ds, ": ");
		s_put(&ds, b->desc);
		break;
	case K_H:
		s_put(&nm, hch_name[b->arg]);
		s_put(&nm, "[");
		s_uint(&nm, item + 2);
		s_put(&nm, "]");
		s_put(&ds, "Harmonic ");
		s_uint(&ds, item + 2);
		s_put(&ds, " of ");
		s_put(&ds, hch_desc[b->arg]);
		s_put(&ds, ", % of the fundamental");
		break;
	case K_EVENT: {
		static const char *const f[8] = {"seq", "time", "type", "source", "circuit", "code", "value", "value2"};
		static const char *const d[8] = {
			"number (0: none)", "time (Unix)", "type (docs/events.md)",
			"source: 0 meter, 1 Modbus TCP, 2 Modbus RTU, 3 panel, 4 web, 5 MQTT, 6 configuration file",
			"circuit 1..4, 0 the meter", "code (by type)", "value (by type)", "second value (by type)"};
		s_put(&nm, "E");
		s_uint(&nm, item / 8u + 1u);
		s_put(&nm, ".");
		s_put(&nm, f[item % 8u]);
		o->unit = item % 8u == 1 ? "s" : "";
		s_put(&ds, "Event ");
		s_uint(&ds, item / 8u + 1u);
		s_put(&ds, item / 8u ? " (older): " : " (event_select, or the newest): ");
		s_put(&ds, d[item % 8u]);
		break;
	}
	case K_MONTH: {
		s_put(&nm, "M");
		s_uint(&nm, b->arg + 1u);
		s_put(&nm, ".");
		s_put(&ds, "Monthly freeze ");
		s_uint(&ds, b->arg + 1u);
		s_put(&ds, " (1 = latest): ");
		if (item == 0) {
			s_put(&nm, "month");
			s_put(&ds, "year*100 + month of the freeze (0: none)");
		} else if (item == 1) {
			s_put(&nm, "time");
			o->unit = "s";
			s_put(&ds, "freeze moment (Unix)");
		} else if (item < 26) {
			unsigned t = (item - 2) / TKINDS + 1, k = tkind_e[(item - 2) % TKINDS];
			s_put(&nm, "T");
			s_uint(&nm, t);
			s_put(&nm, ".");
			s_put(&nm, ekind_name[k]);
			o->unit = ekind_unit_k[k];
			s_put(&ds, "tariff T");
			s_uint(&ds, t);
			s_put(&ds, " ");
			s_put(&ds, ekind_desc[k]);
			s_put(&ds, " of the month");
		} else {
			s_put(&nm, "PF");
			s_put(&ds, "average power factor of the month");
		}
		break;
	}
	default:
		s_put(&nm, b->name);
		s_put(&ds, b->desc);
		break;
	}
}

/* Groups of blocks: [start, end) indices per scope, in table order. */
static void group_range(unsigned g, size_t *lo, size_t *hi)
{
	size_t i = 0;
	while (i < N_BLOCKS && blocks[i].scope < g)
		i++;
	*lo = i;
	while (i < N_BLOCKS && blocks[i].scope == g)
		i++;
	*hi = i;
}

void bm_rm_iter_init(bm_rm_iter *it, unsigned n_circuits)
{
	memset(it, 0, sizeof *it);
	it->n_circuits = (uint8_t)(n_circuits > BM_MAX_CIRCUITS ? BM_MAX_CIRCUITS : n_circuits);
	size_t lo, hi;
	group_range(0, &lo, &hi);
	it->block = (uint16_t)lo;
}

bool bm_rm_next(bm_rm_iter *it, bm_rm_info *out)
{
	for (;;) {
		if (it->group >= S_COUNT)
			return false;
		size_t lo, hi;
		group_range(it->group, &lo, &hi);
		unsigned ncirc = it->group == S_METER ? 1u : it->n_circuits;
		if (it->circuit >= ncirc || lo == hi) {
			it->group++;
			it->circuit = 0;
			it->item = 0;
			if (it->group < S_COUNT) {
				group_range(it->group, &lo, &hi);
				it->block = (uint16_t)lo;
			}
			continue;
		}
		if (it->block >= hi) {
			it->circuit++;
			it->block = (uint16_t)lo;
			it->item = 0;
			continue;
		}
		const rm_block *b = &blocks[it->block];
		if (it->item >= b->n) {
			it->block++;
			it->item = 0;
			continue;
		}
		describe(b, it->circuit, it->item, out);
		out->addr = (uint16_t)(scope_base(b->scope, it->circuit) + b->addr + (uint32_t)it->item * item_regs(b));
		it->item++;
		return true;
	}
}

bm_err bm_rm_find(const char *name, bm_rm_info *out)
{
	if (!name || !out)
		return BM_E_INVAL;
	bm_rm_iter it;
	bm_rm_iter_init(&it, BM_MAX_CIRCUITS);
	while (bm_rm_next(&it, out))
		if (strcmp(out->name, name) == 0)
			return BM_OK;
	return BM_E_NOTFOUND;
}
