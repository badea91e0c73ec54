"""The paper's figures, one module each: `timecourse` (Figure 2), `heatmaps` (Figures 3 and 4),
`cams` (Figure 1); `output` writes them. Imported by module so that editing one figure reruns
only the rules that draw it (the rules fingerprint the modules they import)."""
