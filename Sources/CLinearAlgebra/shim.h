#ifndef CLINEARALGEBRA_SHIM_H
#define CLINEARALGEBRA_SHIM_H
// OpenBLAS's CBLAS interface and the reference LAPACKE C interface, as Debian installs them.
#include <cblas.h>
#include <lapacke.h>
#endif
