// The binding's C++ -> Python exception translator (declared in _core.pxd).
//
// Called by Cython inside the `catch (...)` of every
// `except +_translate_cpp_exception` call (with the GIL held: Cython acquires
// it when the call site is in a `nogil` block). It rethrows the active
// exception and maps it:
//   timelog::AllocationError -> MemoryError naming the structure and size
//   std::bad_alloc         -> MemoryError
//   std::invalid_argument  -> ValueError   (engine config validation)
//   std::out_of_range      -> ValueError
//   std::overflow_error    -> OverflowError
//   anything else          -> timelog.TimelogError (the class is registered at
//                             import time; RuntimeError before that)
#ifndef TIMELOG_BINDING_TRANSLATE_H_
#define TIMELOG_BINDING_TRANSLATE_H_

#include <Python.h>

#include <new>
#include <stdexcept>

#include "timelog/types.h"

static PyObject* timelog_error_class = NULL;

static void timelog_set_error_class(PyObject* cls) {
  Py_XINCREF(cls);
  Py_XDECREF(timelog_error_class);
  timelog_error_class = cls;
}

static void timelog_translate_cpp_exception(void) {
  PyObject* fallback =
      timelog_error_class ? timelog_error_class : PyExc_RuntimeError;
  try {
    throw;
  } catch (const timelog::AllocationError& e) {
    PyErr_SetString(PyExc_MemoryError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_SetString(PyExc_MemoryError,
                    "the timelog engine could not allocate memory "
                    "(a C++ allocation failed)");
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::overflow_error& e) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(fallback, e.what());
  } catch (...) {
    PyErr_SetString(fallback, "unknown C++ exception in the timelog engine");
  }
}

#endif  // TIMELOG_BINDING_TRANSLATE_H_
