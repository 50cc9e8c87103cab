/*
 * quantity.h — the table of measured quantities of one circuit.
 *
 * Purpose: names, units and descriptions as data (X-macro), so the C enum,
 * `branchmeter analyze` output, and later the register map and the web page
 * all come from one list. Names follow DESIGN.md (totals drop the Σ).
 *
 * Invariants: BM_Q_* values are dense 0..BM_Q_COUNT-1 and never reordered
 * once published in the register map (append only). A value a wiring mode
 * does not define is NaN ("not available"), never a made-up number.
 */
#ifndef BM_QUANTITY_H
#define BM_QUANTITY_H

/* X(name, unit, description) */
#define BM_QUANTITIES(X) \
	X(U1, "V", "Phase voltage L1-N") \
	X(U2, "V", "Phase voltage L2-N") \
	X(U3, "V", "Phase voltage L3-N") \
	X(Uavg, "V", "Average phase voltage") \
	X(U0, "V", "Zero-sequence voltage (fundamental)") \
	X(U12, "V", "Line voltage L1-L2") \
	X(U23, "V", "Line voltage L2-L3") \
	X(U31, "V", "Line voltage L3-L1") \
	X(ULavg, "V", "Average line voltage") \
	X(I1, "A", "Phase current I1") \
	X(I2, "A", "Phase current I2") \
	X(I3, "A", "Phase current I3") \
	X(Iavg, "A", "Average phase current") \
	X(In, "A", "Neutral current (measured or computed)") \
	X(F1, "Hz", "Frequency of L1") \
	X(F2, "Hz", "Frequency of L2") \
	X(F3, "Hz", "Frequency of L3") \
	X(F, "Hz", "System frequency") \
	X(PF1, "", "Power factor L1 (P/S)") \
	X(PF2, "", "Power factor L2 (P/S)") \
	X(PF3, "", "Power factor L3 (P/S)") \
	X(PF, "", "Total power factor (P/S)") \
	X(DPF1, "", "Fundamental power factor L1 (cos phi1)") \
	X(DPF2, "", "Fundamental power factor L2 (cos phi1)") \
	X(DPF3, "", "Fundamental power factor L3 (cos phi1)") \
	X(DPF, "", "Total fundamental power factor") \
	X(P1, "W", "Active power L1") \
	X(P2, "W", "Active power L2") \
	X(P3, "W", "Active power L3") \
	X(P, "W", "Total active power") \
	X(Q1, "var", "Fundamental reactive power L1") \
	X(Q2, "var", "Fundamental reactive power L2") \
	X(Q3, "var", "Fundamental reactive power L3") \
	X(Q, "var", "Total fundamental reactive power") \
	X(S1, "VA", "Apparent power L1") \
	X(S2, "VA", "Apparent power L2") \
	X(S3, "VA", "Apparent power L3") \
	X(S, "VA", "Total apparent power") \
	X(THDU1, "%", "Voltage THD L1 (orders 2-50)") \
	X(THDU2, "%", "Voltage THD L2 (orders 2-50)") \
	X(THDU3, "%", "Voltage THD L3 (orders 2-50)") \
	X(THDI1, "%", "Current THD I1 (orders 2-50)") \
	X(THDI2, "%", "Current THD I2 (orders 2-50)") \
	X(THDI3, "%", "Current THD I3 (orders 2-50)") \
	X(HDoU1, "%", "Odd harmonic distortion of U1") \
	X(HDoU2, "%", "Odd harmonic distortion of U2") \
	X(HDoU3, "%", "Odd harmonic distortion of U3") \
	X(HDeU1, "%", "Even harmonic distortion of U1") \
	X(HDeU2, "%", "Even harmonic distortion of U2") \
	X(HDeU3, "%", "Even harmonic distortion of U3") \
	X(HDoI1, "%", "Odd harmonic distortion of I1") \
	X(HDoI2, "%", "Odd harmonic distortion of I2") \
	X(HDoI3, "%", "Odd harmonic distortion of I3") \
	X(HDeI1, "%", "Even harmonic distortion of I1") \
	X(HDeI2, "%", "Even harmonic distortion of I2") \
	X(HDeI3, "%", "Even harmonic distortion of I3") \
	X(HRU1, "V", "Total harmonic RMS of U1 (orders 2-50)") \
	X(HRU2, "V", "Total harmonic RMS of U2 (orders 2-50)") \
	X(HRU3, "V", "Total harmonic RMS of U3 (orders 2-50)") \
	X(HRI1, "A", "Total harmonic RMS of I1 (orders 2-50)") \
	X(HRI2, "A", "Total harmonic RMS of I2 (orders 2-50)") \
	X(HRI3, "A", "Total harmonic RMS of I3 (orders 2-50)") \
	X(K1, "", "K-factor of I1 (UL 1561)") \
	X(K2, "", "K-factor of I2 (UL 1561)") \
	X(K3, "", "K-factor of I3 (UL 1561)") \
	X(Uunb2, "%", "Voltage negative-sequence unbalance") \
	X(Uunb0, "%", "Voltage zero-sequence unbalance") \
	X(Iunb2, "%", "Current negative-sequence unbalance") \
	X(Iunb0, "%", "Current zero-sequence unbalance") \
	X(AU1, "deg", "Angle of U1 (reference, 0)") \
	X(AU2, "deg", "Angle of U2 against U1") \
	X(AU3, "deg", "Angle of U3 against U1") \
	X(AI1, "deg", "Angle of I1 against U1") \
	X(AI2, "deg", "Angle of I2 against U1") \
	X(AI3, "deg", "Angle of I3 against U1") \
	X(AUI1, "deg", "Angle U1 to I1 (positive: current lags)") \
	X(AUI2, "deg", "Angle U2 to I2 (positive: current lags)") \
	X(AUI3, "deg", "Angle U3 to I3 (positive: current lags)") \
	X(USeq, "", "Voltage phase sequence: 0 correct, 1 reversed, 2 loss or weak") \
	X(ISeq, "", "Current phase sequence: 0 correct, 1 reversed, 2 loss or weak")

typedef enum bm_quantity {
#define BM_Q_ENUM(name, unit, desc) BM_Q_##name,
	BM_QUANTITIES(BM_Q_ENUM)
#undef BM_Q_ENUM
	BM_Q_COUNT
} bm_quantity;

typedef struct bm_quantity_info {
	const char *name;
	const char *unit;
	const char *desc;
} bm_quantity_info;

extern const bm_quantity_info bm_quantity_table[BM_Q_COUNT];

/* Index of a quantity by exact name, or -1. */
int bm_quantity_find(const char *name);

#endif /* BM_QUANTITY_H */
