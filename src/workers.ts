/**
 * Where the receive worker's module is. This file sits at the top of src/ on purpose: in a compiled binary
 * every module is bundled into the entry, so `import.meta.url` is the entry's (src/main.ts) and a relative URL
 * from a file deeper in src/ would point to the wrong place. From here, source runs and the binary agree.
 */
export const RECEIVE_WORKER_URL = new URL('./link/worker.ts', import.meta.url);
