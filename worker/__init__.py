"""Pinpoint worker: the execution engine (`worker.engine`) and the daemon for GPU hosts."""
