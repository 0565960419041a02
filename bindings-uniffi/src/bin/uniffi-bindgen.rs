//! `uniffi-bindgen`: generates the Kotlin and Swift sources from the built library, e.g.
//! `uniffi-bindgen generate --library target/release/libpgmq_uniffi.so --language kotlin --out-dir out`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
