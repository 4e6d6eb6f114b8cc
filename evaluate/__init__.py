"""Brain scoring: voxelwise ridge regression against fMRI benchmarks (in development)."""
