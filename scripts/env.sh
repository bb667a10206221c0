# Sourced by the other scripts: puts the project's tools first on PATH.
# binaryen's wasm-opt from npm must win over any other (see ../../shared/BUILD.md in the team notes:
# Debian's is too old and the crates.io one cannot parse photon's wasm).
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
