"""Speed and accuracy benchmarks: one ``bench_<area>.py`` per area, run by ``benchmarks.run``."""
