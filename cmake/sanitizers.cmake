# Sanitizer builds: TIFFIN_SANITIZE_ADDRESS (ASan + UBSan) or TIFFIN_SANITIZE_THREAD.
if(TIFFIN_SANITIZE_ADDRESS AND TIFFIN_SANITIZE_THREAD)
  message(FATAL_ERROR "TIFFIN_SANITIZE_ADDRESS and TIFFIN_SANITIZE_THREAD cannot be combined")
endif()
if(TIFFIN_SANITIZE_ADDRESS)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(TIFFIN_SANITIZE_THREAD)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
