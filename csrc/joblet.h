/* libjoblet: the kernel-facing half of joblet, called from the daemon through bun:ffi.
 * One .c file per isolation concern; this header is the whole ABI. Bump JOBLET_ABI_VERSION on
 * every change to a signature or struct layout here: the daemon refuses to start on a mismatch. */
#ifndef JOBLET_H
#define JOBLET_H

#define JOBLET_ABI_VERSION 1

#define JOBLET_API __attribute__((visibility("default")))

/* The ABI version this library was built with (JOBLET_ABI_VERSION). */
JOBLET_API int joblet_abi_version(void);

#endif
