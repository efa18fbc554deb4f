//! The streaming key-file reader against the in-memory one: never a panic, and the same
//! result or error (the streaming reader may only refuse a header field beyond its field
//! limits where the in-memory one reads it, and a broken zip may be reported with another
//! of the zip crate's messages). The first byte picks the input's shape: a whole
//! zip checked against the published sample's key, or the body of an `export.bin` signed
//! here (so that the walk behind the signature is reached with any bytes); and the chunk
//! size.

#![no_main]

use bluezone_protocol::keyfile::{
    EXPORT_HEADER, KeyFileError, KeyFileLimits, VerifiedKeyFile, read_key_file, stream_key_file,
    zip_key_file,
};
use bluezone_protocol_fuzz::{FUZZ_SIGNER, SAMPLE_TRUSTED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = KeyFileLimits {
        max_zip_bytes: 1 << 20,
        max_export_bytes: 1 << 20,
        max_keys: usize::from(mode >> 4) * 50 + 1,
        ..KeyFileLimits::default()
    };
    let (zip, trusted) = if mode & 1 == 0 {
        (rest.to_vec(), &*SAMPLE_TRUSTED)
    } else {
        let (signer, trusted) = &*FUZZ_SIGNER;
        let mut export = EXPORT_HEADER.to_vec();
        export.extend_from_slice(rest);
        let sig = signer.signature_list(&export, 1, 1);
        (zip_key_file(&export, &sig).expect("zips"), trusted)
    };
    let keys_per_chunk = usize::from((mode >> 1) & 7) + 1;
    let (mut keys, mut revised_keys) = (Vec::new(), Vec::new());
    let streamed = stream_key_file(&zip, trusted, &limits, keys_per_chunk, &mut |chunk| {
        assert!(!chunk.keys.is_empty() && chunk.keys.len() <= keys_per_chunk);
        if chunk.revised {
            revised_keys.extend(chunk.keys);
        } else {
            keys.extend(chunk.keys);
        }
    })
    .map(|file| VerifiedKeyFile {
        info: file.info,
        keys,
        revised_keys,
        sha256: file.sha256,
        signer: file.signer,
    });
    let reference = read_key_file(&zip, trusted, &limits);
    if let Err(KeyFileError::TooLarge {
        what: "a field of export.bin" | "the header fields of export.bin",
        ..
    }) = streamed
    {
        return;
    }
    // The zip is read in another order and other pieces (export.sig first, export.bin a
    // window at a time): a broken zip is refused as such by both, with the zip crate's
    // message for whichever fault each met first.
    let zip_fault = |r: &Result<VerifiedKeyFile, KeyFileError>| {
        matches!(r, Err(KeyFileError::MalformedZip(_)))
    };
    if zip_fault(&streamed) && zip_fault(&reference) {
        return;
    }
    assert_eq!(streamed, reference);
});
