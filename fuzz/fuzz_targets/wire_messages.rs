//! Every message type of the QUIC control stream, decoded from arbitrary bytes as the
//! gateway and the apps decode them: no panic, no allocation beyond the frame limit, and
//! whatever decodes encodes back to a message that decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sos_transport::MAX_CONTROL_MESSAGE;
use sos_transport::framing;
use sos_transport::wire::{FromAgent, FromViewer, Hello, ToAgent, ToViewer};
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) {
    if let Ok(Some((message, used))) = framing::decode::<T>(bytes, MAX_CONTROL_MESSAGE) {
        assert!(used <= bytes.len());
        let encoded = framing::encode(&message).expect("a decoded message encodes");
        let (again, _) = framing::decode::<T>(&encoded, MAX_CONTROL_MESSAGE)
            .expect("re-encoded message decodes")
            .expect("whole");
        assert_eq!(again, message);
    }
}

fuzz_target!(|bytes: &[u8]| {
    round_trip::<Hello>(bytes);
    round_trip::<ToAgent>(bytes);
    round_trip::<FromAgent>(bytes);
    round_trip::<ToViewer>(bytes);
    round_trip::<FromViewer>(bytes);
});
