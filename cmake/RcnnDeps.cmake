# Third-party pieces, found once for the whole tree:
#   rcnn::ort_headers  ONNX Runtime C/C++ API headers from the riscv64 sysroot (arch-independent): Debian
#                      testing/unstable's libonnxruntime-dev, ORT >= 1.23 (1.23.2 today, ORT_API_VERSION 23,
#                      with the plugin-EP API onnxruntime_ep_c_api.h), whatever toolchain/sysroot.lock pins
#   rcnn::onnxruntime  headers + the runtime to link: the sysroot's libonnxruntime.so.1.2x when cross-compiling,
#                      the pinned PyPI wheel's libonnxruntime.so.1.x (1.31.1, newer than the headers) on the host
#   rcnn::stb          Debian's stb headers (stb_image) from the same sysroot
include_guard(GLOBAL)

if(NOT RCNN_SYSROOT)
  if(DEFINED ENV{RCNN_SYSROOT})
    set(RCNN_SYSROOT "$ENV{RCNN_SYSROOT}")
  elseif(CMAKE_SYSROOT)
    set(RCNN_SYSROOT "${CMAKE_SYSROOT}")
  else()
    set(RCNN_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot")
  endif()
endif()
get_filename_component(RCNN_SYSROOT "${RCNN_SYSROOT}" ABSOLUTE)
set(RCNN_SYSROOT "${RCNN_SYSROOT}" CACHE PATH "riscv64 sysroot made by toolchain/build-sysroot.sh")

set(_ort_inc "${RCNN_SYSROOT}/usr/include/onnxruntime")
if(NOT EXISTS "${_ort_inc}/onnxruntime_cxx_api.h")
  message(FATAL_ERROR "ONNX Runtime headers not found in ${_ort_inc}.\n"
                      "Build the sysroot first: toolchain/build-sysroot.sh (or set RCNN_SYSROOT).")
endif()
add_library(rcnn_ort_headers INTERFACE)
# SYSTEM: ORT's headers are not ours to keep warning-free
target_include_directories(rcnn_ort_headers SYSTEM INTERFACE "${_ort_inc}")
add_library(rcnn::ort_headers ALIAS rcnn_ort_headers)

add_library(rcnn_stb INTERFACE)
target_include_directories(rcnn_stb SYSTEM INTERFACE "${RCNN_SYSROOT}/usr/include/stb")
add_library(rcnn::stb ALIAS rcnn_stb)

add_library(rcnn_onnxruntime INTERFACE)
target_link_libraries(rcnn_onnxruntime INTERFACE rcnn_ort_headers)
if(CMAKE_CROSSCOMPILING)
  find_package(onnxruntime CONFIG REQUIRED)
  target_link_libraries(rcnn_onnxruntime INTERFACE onnxruntime::onnxruntime)
else()
  # The wheel ships only capi/libonnxruntime.so.1.<minor>.<patch> (SONAME libonnxruntime.so.1), no headers.
  # By hand, prefer the project's venv (made by setup.sh); pip builds already run inside the right Python.
  if(NOT Python3_EXECUTABLE AND NOT SKBUILD AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/../.venv/bin/python")
    get_filename_component(Python3_EXECUTABLE "${CMAKE_CURRENT_LIST_DIR}/../.venv/bin/python" ABSOLUTE)
  endif()
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))"
    OUTPUT_VARIABLE RCNN_ORT_CAPI_DIR OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "onnxruntime is not importable by ${Python3_EXECUTABLE}: run ./setup.sh or pass -DPython3_EXECUTABLE=<a python with onnxruntime==1.31.1>")
  endif()
  file(GLOB _ort_lib "${RCNN_ORT_CAPI_DIR}/libonnxruntime.so.1*")
  if(NOT _ort_lib)
    message(FATAL_ERROR "no libonnxruntime.so.1* in ${RCNN_ORT_CAPI_DIR}")
  endif()
  list(GET _ort_lib 0 _ort_lib)
  message(STATUS "Host ONNX Runtime: ${_ort_lib}")
  # The wheel has no file named by the SONAME: give the build tree a symlink and installs a copy beside rcnn/bin.
  set(RCNN_ORT_LIB_DIR "${CMAKE_BINARY_DIR}/ort-lib" CACHE INTERNAL "")
  file(MAKE_DIRECTORY "${RCNN_ORT_LIB_DIR}")
  file(CREATE_LINK "${_ort_lib}" "${RCNN_ORT_LIB_DIR}/libonnxruntime.so.1" SYMBOLIC)
  target_link_libraries(rcnn_onnxruntime INTERFACE "${RCNN_ORT_LIB_DIR}/libonnxruntime.so.1")
  install(FILES "${_ort_lib}" DESTINATION rcnn/lib RENAME libonnxruntime.so.1)
endif()
add_library(rcnn::onnxruntime ALIAS rcnn_onnxruntime)

# Executables that link rcnn::onnxruntime find the host wheel's library: absolute path in the build tree,
# in rcnn/lib once pip installs them into <site-packages>/rcnn/bin.
function(rcnn_set_ort_rpath target)
  if(NOT CMAKE_CROSSCOMPILING)
    set_target_properties(${target} PROPERTIES
      BUILD_RPATH "${RCNN_ORT_LIB_DIR}"
      INSTALL_RPATH "$ORIGIN/../lib")
  endif()
endfunction()
