// Typed bindings to libjoblet.so: the only module that touches bun:ffi.
// The library is embedded in the compiled executable; Bun extracts it to $TMPDIR and dlopens it.
import { dlopen, FFIType } from "bun:ffi";
import libraryPath from "../../csrc/libjoblet.so" with { type: "file" };

/** Must equal JOBLET_ABI_VERSION in csrc/joblet.h. */
export const EXPECTED_ABI_VERSION = 1;

const symbols = {
  joblet_abi_version: { args: [], returns: FFIType.i32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>;
let library: Library | undefined;

function lib(): Library {
  library ??= dlopen(libraryPath, symbols);
  return library;
}

export function abiVersion(): number {
  return lib().symbols.joblet_abi_version();
}

/** Loads the library and checks its ABI; throws an actionable error on a mismatch. */
export function checkLibrary(): void {
  let found: number;
  try {
    found = abiVersion();
  } catch (e) {
    throw new Error(`cannot load libjoblet (${libraryPath}): ${(e as Error).message}`);
  }
  if (found !== EXPECTED_ABI_VERSION) {
    throw new Error(`libjoblet ABI ${found} does not match the daemon's ${EXPECTED_ABI_VERSION}: rebuild with \`npm run build\``);
  }
}
