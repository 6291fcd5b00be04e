# Run by ctest (stapler.libocspstaple_links_no_writer): cmake -DLIBRARY=<libocspstaple.so> -DNM=<nm> -P this.
# libocspstaple is loaded into TLS servers, so it must hold the staple cache's reader and nothing of its
# writer. Two checks, so that a stripped library is still checked:
#  - the symbol table (present in every build the tests run on) names shm_reader and never shm_writer;
#  - the dynamic imports hold none of the calls only the writer makes (flock, posix_fallocate, rename,
#    unlink, fchmod): the reader opens, maps and closes, nothing else.
if(NOT LIBRARY OR NOT NM)
  message(FATAL_ERROR "usage: cmake -DLIBRARY=<lib> -DNM=<nm> -P check_reader_only.cmake")
endif()

execute_process(COMMAND ${NM} -C ${LIBRARY} OUTPUT_VARIABLE symbols ERROR_VARIABLE nm_error RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -C ${LIBRARY} failed: ${nm_error}")
endif()
if(NOT symbols MATCHES "shm_reader::lookup")
  message(FATAL_ERROR "${LIBRARY} has no shm_reader::lookup in its symbol table (stripped?): cannot check it")
endif()
string(REGEX MATCHALL "[^\n]*shm_writer[^\n]*" writer_symbols "${symbols}")
if(writer_symbols)
  list(JOIN writer_symbols "\n  " listed)
  message(FATAL_ERROR "${LIBRARY} links the cache writer:\n  ${listed}")
endif()

execute_process(COMMAND ${NM} -D --undefined-only ${LIBRARY} OUTPUT_VARIABLE imports RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --undefined-only ${LIBRARY} failed")
endif()
foreach(call flock posix_fallocate rename unlink fchmod)
  if(imports MATCHES "[ \t]${call}(@|\n|$)")
    message(FATAL_ERROR "${LIBRARY} imports ${call}(), which only the cache writer calls")
  endif()
endforeach()
message(STATUS "${LIBRARY}: reader only")
