//! Fuzz target for the data-channel codec: `decode` must never panic on any
//! bytes, and whatever it accepts must decode again, unchanged, after
//! `encode`.

#![no_main]

use ecsx::protocol::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode(data) {
        let again = decode(&encode(&message));
        assert_eq!(again.as_ref(), Ok(&message), "re-encoded frame differs");
    }
});
