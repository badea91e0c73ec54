"""What goes to and comes from disk: atomic writes, HDF5, checkpoints, weight fetching, resumable
batches, overlapped writes, and the inputs a network job reads."""
