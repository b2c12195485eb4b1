'use strict';
// Loaded first into the Node.js processes of a synthesis: run_app.py adds it to NODE_OPTIONS, and jsii's
// Node.js process and the kernel it starts inherit it. Why, and what it buys: docs/pipeline.md, "Cost of
// synthesis".
//
// CDK checks every template with a WebAssembly engine (@aws/cloudformation-validate), and V8's defaults
// cost a synthesis, over in seconds, time it never earns back. Two things are tuned:
// - Compilation: V8 compiles the engine's functions with its baseline compiler (Liftoff) and, by
//   default, recompiles the hot ones with TurboFan on background threads. `--no-wasm-tier-up
//   --no-wasm-dynamic-tiering` keep the Liftoff code.
// - Garbage collection: starting, the engine grows its WebAssembly memory to about 200 MB, and V8 starts
//   a collection on the external-memory pressure that growth reports (149 of a dev synth's 151 starts,
//   by V8's `--trace-incremental-marking`). With concurrent marking, each of these collections is done
//   so soon that the next growth starts another: 68 to 173 full collections in a dev synth's Node.js
//   process in our runs, each a pause that grows with the heap. `--no-concurrent-marking` leaves 14 to
//   35: marking then advances in steps on the main thread and spans more growth. Parallel marking within
//   the pauses is unchanged. (`--single-threaded-gc` would go further, but set at run time it crashes V8.)
// They are set here, at run time, because NODE_OPTIONS refuses these flags and jsii starts Node.js
// itself; V8 applies them to WebAssembly compiled and collections started after this file runs, which is
// before either happens.
//
// Checked with the V8 of Node.js 20 (11.3), 22 (12.4) and 24 (13.6); any other V8 (major.minor) keeps its defaults,
// silently, so a flag a later V8 renames or drops can never print V8's "unrecognized flag" or change
// anything else. tests/cli/test_node_flags.py fails if the pinned Node.js (package.json) leaves the list.
const FLAGS = '--no-wasm-tier-up --no-wasm-dynamic-tiering --no-concurrent-marking';
const CHECKED_V8_VERSIONS = ['11.3', '12.4', '13.6'];

if (CHECKED_V8_VERSIONS.includes(process.versions.v8.split('.').slice(0, 2).join('.'))) {
  require('v8').setFlagsFromString(FLAGS);
}
