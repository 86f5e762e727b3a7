#include "joblet.h"

int joblet_abi_version(void) { return JOBLET_ABI_VERSION; }
