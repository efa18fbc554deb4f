//! The workspace's own uniffi bindings generator (`--features cli`), so the generated code
//! always matches the uniffi version the library is built with.

fn main() {
    uniffi::uniffi_bindgen_main();
}
