# CMake toolchain for riscv64 Linux: compile on the host, link against the Debian testing/unstable sysroot
# (ONNX Runtime >= 1.23) made by toolchain/build-sysroot.sh, run tests through qemu-riscv64.
#
#   cmake -S . -B build/riscv64 -G Ninja --toolchain toolchain/riscv64.cmake [-DRCNN_SYSROOT=DIR] [-DRV_COMPILER=clang]
#
# Variables:
#   RCNN_SYSROOT  the sysroot (default: env RCNN_SYSROOT, else <repo>/build/sysroot)
#   RV_COMPILER   gcc (default: riscv64-linux-gnu-g++) or clang (clang++ --target=riscv64-linux-gnu)
#   RV_LINKER     clang only: bfd (default: riscv64-linux-gnu-ld.bfd) or lld (needs ld.lld >= 15)
#
# This file is read again for every try_compile project; keep it free of side effects.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(_rv_triple riscv64-linux-gnu)

# ------------------------------------------------------------------------------------------ sysroot
if(NOT RCNN_SYSROOT)
  if(DEFINED ENV{RCNN_SYSROOT} AND NOT "$ENV{RCNN_SYSROOT}" STREQUAL "")
    set(RCNN_SYSROOT "$ENV{RCNN_SYSROOT}")
  else()
    set(RCNN_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot")
  endif()
endif()
# Cached so that re-running cmake without the environment variable keeps the same sysroot; caching as
# PATH also makes a relative -DRCNN_SYSROOT=dir relative to the working directory, as usual for -D.
set(RCNN_SYSROOT "${RCNN_SYSROOT}" CACHE PATH "riscv64 sysroot made by toolchain/build-sysroot.sh")
get_filename_component(RCNN_SYSROOT "${RCNN_SYSROOT}" ABSOLUTE)

if(NOT RV_COMPILER)
  set(RV_COMPILER gcc)
endif()
if(NOT RV_LINKER)
  set(RV_LINKER bfd)
endif()
# try_compile projects (compiler checks, check_cxx_source_compiles, ...) re-read this file: give them our choices.
set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES RCNN_SYSROOT RV_COMPILER RV_LINKER)

if(NOT EXISTS "${RCNN_SYSROOT}/usr/lib/${_rv_triple}/libc.so.6" OR NOT EXISTS "${RCNN_SYSROOT}/lib")
  message(FATAL_ERROR "riscv64 sysroot not found (or incomplete) at ${RCNN_SYSROOT}.\n"
    "Build it with: toolchain/build-sysroot.sh --dest ${RCNN_SYSROOT}\n"
    "or point -DRCNN_SYSROOT=... (or env RCNN_SYSROOT) at an existing one.")
endif()

set(CMAKE_SYSROOT "${RCNN_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE ${_rv_triple})   # find_package() then looks in usr/lib/riscv64-linux-gnu/cmake
# Programs come from the host, libraries/headers/packages only from the sysroot (never the host's x86 ones).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg_check_modules() must see the sysroot's .pc files, not the host's.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${RCNN_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR} "${RCNN_SYSROOT}/usr/lib/${_rv_triple}/pkgconfig:${RCNN_SYSROOT}/usr/share/pkgconfig")

# ------------------------------------------------------------------------------------------ compiler
if(RV_COMPILER STREQUAL "gcc")
  find_program(RV_GCC ${_rv_triple}-gcc)
  find_program(RV_GXX ${_rv_triple}-g++)
  if(NOT RV_GCC OR NOT RV_GXX)
    message(FATAL_ERROR "${_rv_triple}-g++ not found. Install it with: apt-get install g++-riscv64-linux-gnu "
                        "(or run toolchain/install-host-tools.sh)")
  endif()
  set(CMAKE_C_COMPILER "${RV_GCC}")
  set(CMAKE_CXX_COMPILER "${RV_GXX}")
  # The sysroot is one Debian testing/unstable suite (glibc 2.43, libstdc++6 16, ORT >= 1.23 at the time of
  # writing), newer than the cross compiler: Debian 12's g++-riscv64-linux-gnu is GCC 12 (its own runtime in
  # /usr/riscv64-linux-gnu: glibc 2.36, libstdc++ 12), Debian 13's is GCC 14 (glibc 2.41, libstdc++ 14).
  # - Compiling: g++ uses its OWN C++ headers (include/c++/12 or /14 under /usr/riscv64-linux-gnu; the
  #   sysroot's usr/include/c++/16 is never searched, as GCC looks only in c++/<its version>) and finds the C
  #   headers in /usr/riscv64-linux-gnu/include (glibc 2.36/2.41) before the sysroot's. So no newer libstdc++
  #   header ever meets an older compiler, and code built against older headers runs on the newer runtime
  #   (glibc and libstdc++ keep their old symbol versions). ORT's C++ API is header-only over the C ABI.
  # - Linking: libonnxruntime.so.1.2x needs GLIBC_2.38 and GLIBCXX_3.4.30 (newer ORTs more), which the cross
  #   compiler's own runtime may not have (GCC 12's has neither); the linker would take that runtime first.
  #   So the sysroot's GCC runtime dir (libstdc++.so -> libstdc++.so.6 16, libgcc_s, libgcc.a) and multiarch
  #   dir (libc.so, libm) go first with -L, and its Scrt1/crti/crtn via -B; crtbegin/crtend stay the
  #   compiler's. The dir is the highest GCC version in the sysroot that has a libstdc++.so (the version
  #   follows the suite's default GCC, so it is found, not fixed). Verified with GCC 12 (Debian 12) and
  #   GCC 14 (a Debian 13 chroot): builds with -Werror, all riscv64 ctests pass under qemu.
  file(GLOB _rv_gcc_dirs LIST_DIRECTORIES true "${RCNN_SYSROOT}/usr/lib/gcc/${_rv_triple}/*")
  set(_rv_gcc_dir "")
  foreach(_d IN LISTS _rv_gcc_dirs)   # the highest GCC version that has a libstdc++.so
    get_filename_component(_v "${_d}" NAME)
    get_filename_component(_best "${_rv_gcc_dir}" NAME)
    if(EXISTS "${_d}/libstdc++.so" AND (_rv_gcc_dir STREQUAL "" OR _v VERSION_GREATER _best))
      set(_rv_gcc_dir "${_d}")
    endif()
  endforeach()
  if(NOT _rv_gcc_dir)
    message(FATAL_ERROR "no usr/lib/gcc/${_rv_triple}/<version>/libstdc++.so in ${RCNN_SYSROOT}: "
                        "rebuild it with toolchain/build-sysroot.sh")
  endif()
  set(_rv_link_flags "-L${_rv_gcc_dir} -L${RCNN_SYSROOT}/usr/lib/${_rv_triple} -B${RCNN_SYSROOT}/usr/lib/${_rv_triple}/")
elseif(RV_COMPILER STREQUAL "clang")
  find_program(RV_CLANG clang)
  find_program(RV_CLANGXX clang++)
  if(NOT RV_CLANG OR NOT RV_CLANGXX)
    message(FATAL_ERROR "clang/clang++ not found. Install them with: apt-get install clang lld")
  endif()
  set(CMAKE_C_COMPILER "${RV_CLANG}")
  set(CMAKE_CXX_COMPILER "${RV_CLANGXX}")
  set(CMAKE_C_COMPILER_TARGET ${_rv_triple})
  set(CMAKE_CXX_COMPILER_TARGET ${_rv_triple})
  # clang finds the sysroot's GCC headers and crt files by itself (via lib -> usr/lib): with clang, the
  # sysroot's libstdc++ headers (GCC 16 today) are used, which needs a clang recent enough for them.
  if(RV_LINKER STREQUAL "bfd")
    # lld < 15 cannot link glibc's crt objects (R_RISCV_ALIGN needs linker relaxation): use GNU ld.
    find_program(RV_LD_BFD ${_rv_triple}-ld.bfd)
    if(NOT RV_LD_BFD)
      message(FATAL_ERROR "${_rv_triple}-ld.bfd not found. Install it with: apt-get install binutils-riscv64-linux-gnu")
    endif()
    set(_rv_link_flags "-fuse-ld=bfd")
  elseif(RV_LINKER STREQUAL "lld")
    find_program(RV_LLD NAMES ld.lld-21 ld.lld-20 ld.lld-19 ld.lld-18 ld.lld-17 ld.lld-16 ld.lld-15 ld.lld)
    if(RV_LLD)
      execute_process(COMMAND "${RV_LLD}" --version OUTPUT_VARIABLE _rv_lld_out ERROR_QUIET)
      string(REGEX MATCH "LLD ([0-9]+)" _ "${_rv_lld_out}")
      set(_rv_lld_major "${CMAKE_MATCH_1}")
    endif()
    if(NOT RV_LLD OR NOT _rv_lld_major OR _rv_lld_major LESS 15)
      message(FATAL_ERROR "RV_LINKER=lld needs ld.lld >= 15 (found: '${RV_LLD}' ${_rv_lld_major}); "
                          "lld < 15 cannot link riscv64 glibc crt objects. Use RV_LINKER=bfd, "
                          "or apt-get install lld-19 (Debian 12) / lld (Debian 13).")
    endif()
    set(_rv_link_flags "--ld-path=${RV_LLD}")
  else()
    message(FATAL_ERROR "RV_LINKER must be bfd or lld, not '${RV_LINKER}'")
  endif()
else()
  message(FATAL_ERROR "RV_COMPILER must be gcc or clang, not '${RV_COMPILER}'")
endif()

foreach(_kind EXE SHARED MODULE)
  set(CMAKE_${_kind}_LINKER_FLAGS_INIT "${_rv_link_flags}")
  # _INIT only seeds the cache of a new build tree. A tree configured against an older sysroot (trixie's
  # GCC 14 dir) keeps "-L<sysroot>/usr/lib/gcc/<triple>/14" cached, a directory that no longer exists, and
  # would then link against the cross compiler's too old runtime: point it at the current GCC dir.
  if(RV_COMPILER STREQUAL "gcc" AND DEFINED CACHE{CMAKE_${_kind}_LINKER_FLAGS})
    set(_rv_cached "$CACHE{CMAKE_${_kind}_LINKER_FLAGS}")
    string(REGEX REPLACE "-L[^ ]*/usr/lib/gcc/${_rv_triple}/[0-9]+( |$)" "-L${_rv_gcc_dir}\\1" _rv_fixed "${_rv_cached}")
    if(NOT _rv_fixed STREQUAL _rv_cached)
      set(CMAKE_${_kind}_LINKER_FLAGS "${_rv_fixed}" CACHE STRING "Flags used by the linker" FORCE)
    endif()
  endif()
endforeach()

# ------------------------------------------------------------------------------------------ running
# add_test()/ctest (and try_run) run riscv64 binaries through qemu user mode with the sysroot's ld.so.
find_program(RV_QEMU NAMES qemu-riscv64 qemu-riscv64-static)
if(RV_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${RV_QEMU};-L;${RCNN_SYSROOT}")
else()
  message(WARNING "qemu-riscv64 not found: builds work, tests cannot run. Install it with: apt-get install qemu-user")
endif()
