// Runs the core bench (benches/core.rs built for wasm32-wasip1) in Node's WebAssembly engine
// (V8, as in workerd) and prints its JSON line.
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const wasi = new WASI({ version: "preview1", args: ["core"], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);
