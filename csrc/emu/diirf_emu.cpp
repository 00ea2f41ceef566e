// csrc/cuda/diirf.cu, unchanged, compiled by g++ against the emulated CUDA runtime.
#include "cuda/diirf.cu"
