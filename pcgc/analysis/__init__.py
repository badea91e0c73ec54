"""The analysis of computed maps: localisation metrics and scoring, bootstrap, paired tests against
t = 0, and convergence diagnostics."""
