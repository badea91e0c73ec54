"""The figures, one module per rule that draws one: `fig1` (Grad-CAM sequences), `fig2` (scores
over time), `diagnostics` (convergence); `heatmaps` draws Figures 3 and 4 (the same grid of
heatmaps over two sweeps); `output` writes them. Imported by module so that editing one figure
reruns only the rules that draw it (the rules fingerprint the modules they import)."""
