//! uniffi's Swift generator (`--features cli`): unlike the generic one, it writes one module
//! map over the headers of every component in the library (bluezone-ffi's and the core's),
//! which the Swift bindings import as the single C module `BluezoneFFI`.

fn main() {
    uniffi::uniffi_bindgen_swift();
}
