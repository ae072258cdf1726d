"""The fleet engine: columnar device state, the SIM lifecycle, test allowances and records."""
