// csrc/cuda/pyramid.cu, unchanged, compiled by g++ against the emulated CUDA runtime.
#include "cuda/pyramid.cu"
