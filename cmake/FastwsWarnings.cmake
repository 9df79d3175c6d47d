# Warnings for the project's own targets; FASTWS_WERROR (on in CI) makes them errors.
function(fastws_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough
    # Options are meant for designated initializers ({.port = 8080}); g++ 12 warns on every
    # field left out of one.
    -Wno-missing-field-initializers)
  if(FASTWS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Sanitizers apply to everything built in the tree (library, tests, tools) so that they agree.
if(FASTWS_SANITIZE)
  add_compile_options(-fsanitize=${FASTWS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${FASTWS_SANITIZE})
endif()

# Fuzz builds instrument the whole tree for coverage; only the fuzz targets link libFuzzer's main.
if(FASTWS_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
