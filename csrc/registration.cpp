// The one TORCH_LIBRARY block of the `fasfast` namespace and the Python module
// `fasfast._C`. Each op family declares its schemas exactly once, in its own
// csrc/<family>.cpp (TORCH_LIBRARY_FRAGMENT), next to its CPU kernels; the CUDA
// kernels in csrc/cuda/<family>.cu only add implementations (TORCH_LIBRARY_IMPL).
#include <Python.h>
#include <torch/library.h>

extern "C" {
// Importing fasfast._C loads this shared library, which runs the static
// registrations below and in every other translation unit.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {
      PyModuleDef_HEAD_INIT, "_C", "fasfast compiled operators (registered as torch.ops.fasfast.*)",
      -1, nullptr};
  return PyModule_Create(&module_def);
}
}

TORCH_LIBRARY(fasfast, m) {
  // Reports which backends were compiled into this library (e.g. ["cpu", "cuda"]).
  m.def("compiled_backends() -> str[]");
}

static std::vector<std::string> compiled_backends() {
#ifdef FASFAST_WITH_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

TORCH_LIBRARY_IMPL(fasfast, CompositeExplicitAutograd, m) {
  m.impl("compiled_backends", &compiled_backends);
}
