'use strict';
// Loaded first into the Node.js processes of a synthesis: run_app.py adds it to NODE_OPTIONS, and jsii's
// Node.js process and the kernel it starts inherit it. Why, and what it buys: docs/pipeline.md, "Cost of
// synthesis".
//
// CDK checks every template with a WebAssembly engine (@aws/cloudformation-validate). V8 compiles its
// functions with its baseline compiler (Liftoff) and, by default, recompiles the hot ones with TurboFan on
// background threads: CPU that a synthesis, over in seconds, never earns back. These flags keep the
// Liftoff code. They are set here, at run time, because NODE_OPTIONS refuses these flags and jsii starts
// Node.js itself; V8 applies them to the WebAssembly compiled after this file runs.
//
// Checked with the V8 of Node.js 20 (11.3), 22 (12.4) and 24 (13.6); any other V8 (major.minor) keeps its defaults,
// silently, so a flag a later V8 renames or drops can never print V8's "unrecognized flag" or change
// anything else. tests/cli/test_node_flags.py fails if the pinned Node.js (package.json) leaves the list.
const FLAGS = '--no-wasm-tier-up --no-wasm-dynamic-tiering';
const CHECKED_V8_VERSIONS = ['11.3', '12.4', '13.6'];

if (CHECKED_V8_VERSIONS.includes(process.versions.v8.split('.').slice(0, 2).join('.'))) {
  require('v8').setFlagsFromString(FLAGS);
}
