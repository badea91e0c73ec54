"""The computation: networks, the predictive-coding dynamics, the engine, CAMs, precision,
compilation and batch sizing. Imports `pcgc.spec` and `pcgc.data`; no file formats, no files."""
