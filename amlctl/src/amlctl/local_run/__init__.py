"""Run pipeline jobs on this machine (`run PIPELINE --local`)."""
