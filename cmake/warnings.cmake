# tiffin_set_warnings(TARGET): the project's warning set; errors when
# TIFFIN_FATAL_WARNINGS is on.
function(tiffin_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # -Wno-restrict: GCC 12 false positives in std::string (GCC bug 105329).
    target_compile_options(${target} PRIVATE -Wshadow=local -Wno-restrict)
    # GCC 12 reports maybe-uninitialized falsely inside std::regex and Eigen's
    # AVX-512 paths once sanitizers change inlining.
    if(TIFFIN_SANITIZE_ADDRESS OR TIFFIN_SANITIZE_THREAD)
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
  if(TIFFIN_FATAL_WARNINGS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(TIFFIN_NATIVE AND NOT TIFFIN_BUILD_FUZZ)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()
