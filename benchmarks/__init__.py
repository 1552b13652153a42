"""Performance benchmarks (``make bench``); results print as a table and go to benchmarks/results/."""
