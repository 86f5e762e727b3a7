// `import path from "./x.so" with { type: "file" }` yields a file path (a /$bunfs/ path once compiled).
declare module "*.so" {
  const path: string;
  export default path;
}

// `import text from "./x.yml" with { type: "text" }` yields the file's text.
declare module "*.yml" {
  const text: string;
  export default text;
}

// The jobs' PID 1, a static executable embedded like the library.
declare module "*/joblet-init" {
  const path: string;
  export default path;
}
