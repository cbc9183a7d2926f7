// Package archtest tests the shape of the repository rather than its
// behaviour; it has no code, only tests, which parse the module's Go files
// with go/parser (no build, no go/packages):
//
//   - TestFunctionLength: no non-test function in socketio/, gateway/,
//     store/ or cmd/ is longer than 80 lines, counted like
//     shared/tools/funclen (from the func keyword to the closing brace).
//   - TestImports: the dependency arrows of the README hold for the
//     non-test files (the import graph that builds the binary):
//     (a) socketio/... imports none of gateway, store, auth, ratelimit;
//     (b) a product package, i.e. every direct sub-directory of gateway/
//     other than gateway/event and gateway/internal, with its
//     sub-packages, imports neither the wiring package gateway nor another
//     product; (c) gateway/event imports neither gateway nor a product.
//     Products are discovered from the directory tree, so a new one is
//     covered without editing the test.
//
// Each rule is a function over parsed data, tested on synthetic inputs
// that must violate it, so a rule that silently stopped firing fails too.
package archtest
