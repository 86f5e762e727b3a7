// runtime-config.yml: the distribution-specific part of the configuration (what the job sandbox
// mounts read-only, where runtimes live). Installed as runtime-config-<distro>.yml by install.sh.
import { z } from "zod";
import { absolutePath, list, section } from "./values";

export const DEFAULT_ALLOWED_MOUNTS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/share", "/etc/alternatives", "/etc/ld.so.cache"];

export const runtimeSection = section({
  base_path: absolutePath().default("/opt/joblet/runtimes"),
  common_paths: list(absolutePath()).default([]),
  allowed_mounts: list(absolutePath()).default(DEFAULT_ALLOWED_MOUNTS),
}).prefault({});

export const runtimeConfigSchema = section({ runtime: runtimeSection });

export type RuntimeConfig = z.output<typeof runtimeSection>;
