// Placeholder: the benchmark is being written (see benchmarks/README.md).
print("xentest-bench: not written yet")
