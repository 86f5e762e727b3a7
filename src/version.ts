// Version of this build; kept free of imports so `--version` stays fast.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
/** The Joblet API version this server speaks on the wire. */
export const API_VERSION = "2.5.8";
