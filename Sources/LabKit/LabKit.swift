// LabKit: lab topologies for tests and benchmarks.
