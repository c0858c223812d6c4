//! SHA-256 of many payloads at once: every data-channel message carries the
//! digest of its payload, and the receiver checks it, so at hundreds of MB/s
//! hashing is a third of the CPU of both ends.
//!
//! A SHA-NI round depends on the one before it, so one message runs at the
//! instruction's latency and leaves the unit idle half the time; two
//! independent messages hashed in lockstep fill it, which is about 1.9x the
//! throughput of the `sha2` crate on the same core (measured on the machines
//! this is built on; see docs/design.md). [`digests`] pairs its inputs that
//! way when the CPU has SHA-NI and uses the `sha2` crate otherwise, and for
//! an input left without a partner.

use sha2::{Digest, Sha256};

/// The SHA-256 of each input, in order.
pub fn digests(inputs: &[&[u8]]) -> Vec<[u8; 32]> {
    let mut out = Vec::with_capacity(inputs.len());
    #[cfg(target_arch = "x86_64")]
    if ni::available() {
        let mut pairs = inputs.chunks_exact(2);
        for pair in &mut pairs {
            // SAFETY: `available` checked that the CPU has SHA-NI, SSSE3
            // and SSE4.1.
            let (a, b) = unsafe { ni::two(pair[0], pair[1]) };
            out.push(a);
            out.push(b);
        }
        out.extend(pairs.remainder().iter().map(|input| one(input)));
        return out;
    }
    out.extend(inputs.iter().map(|input| one(input)));
    out
}

/// The SHA-256 of one input.
pub fn one(input: &[u8]) -> [u8; 32] {
    Sha256::digest(input).into()
}

#[cfg(target_arch = "x86_64")]
mod ni {
    use std::arch::x86_64::*;

    /// The round constants.
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    /// The initial hash value.
    const H0: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];

    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1")
    }

    /// The state as the SHA instructions take it: words A,B,E,F and C,D,G,H.
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[inline(always)]
    unsafe fn initial() -> State {
        let dcba = _mm_loadu_si128(H0.as_ptr().cast());
        let hgfe = _mm_loadu_si128(H0.as_ptr().add(4).cast());
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        State {
            abef: _mm_alignr_epi8(cdab, efgh, 8),
            cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
        }
    }

    #[inline(always)]
    unsafe fn finish(s: State) -> [u8; 32] {
        let feba = _mm_shuffle_epi32(s.abef, 0x1B);
        let dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
        let hgef = _mm_alignr_epi8(dchg, feba, 8);
        let mut words = [0u32; 8];
        _mm_storeu_si128(words.as_mut_ptr().cast(), dcba);
        _mm_storeu_si128(words.as_mut_ptr().add(4).cast(), hgef);
        let mut out = [0u8; 32];
        for (bytes, word) in out.chunks_exact_mut(4).zip(words) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The 16 message words of a 64-byte block, as four big-endian quads.
    #[inline(always)]
    unsafe fn load(block: &[u8; 64]) -> [__m128i; 4] {
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        let p = block.as_ptr();
        [
            _mm_shuffle_epi8(_mm_loadu_si128(p.cast()), swap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(16).cast()), swap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(32).cast()), swap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(48).cast()), swap),
        ]
    }

    /// Four rounds with message quad `w` and constants quad `q`.
    #[inline(always)]
    unsafe fn rounds(s: &mut State, w: __m128i, q: usize) {
        let t = _mm_add_epi32(w, _mm_loadu_si128(K.as_ptr().add(4 * q).cast()));
        s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, t);
        s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(t, 0x0E));
    }

    /// Message quad `q` (4 <= q < 16) from the four before it, which `w`
    /// holds at `q % 4` (the oldest) onwards; it replaces the oldest.
    #[inline(always)]
    unsafe fn schedule(w: &mut [__m128i; 4], q: usize) {
        let (a, b, c, d) = (w[q % 4], w[(q + 1) % 4], w[(q + 2) % 4], w[(q + 3) % 4]);
        let sigma0 = _mm_sha256msg1_epu32(a, b);
        w[q % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(sigma0, _mm_alignr_epi8(d, c, 4)), d);
    }

    /// One block into one state.
    #[inline(always)]
    unsafe fn compress(s: &mut State, block: &[u8; 64]) {
        let saved = *s;
        let mut w = load(block);
        macro_rules! quads {
            ($($q:literal)*) => {$(
                if $q >= 4 {
                    schedule(&mut w, $q);
                }
                rounds(s, w[$q % 4], $q);
            )*};
        }
        quads!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        s.abef = _mm_add_epi32(s.abef, saved.abef);
        s.cdgh = _mm_add_epi32(s.cdgh, saved.cdgh);
    }

    /// One block into each of two states, their instructions interleaved.
    #[inline(always)]
    unsafe fn compress_two(s: &mut State, block: &[u8; 64], t: &mut State, other: &[u8; 64]) {
        let (saved_s, saved_t) = (*s, *t);
        let mut w = load(block);
        let mut v = load(other);
        macro_rules! quads {
            ($($q:literal)*) => {$(
                if $q >= 4 {
                    schedule(&mut w, $q);
                    schedule(&mut v, $q);
                }
                rounds(s, w[$q % 4], $q);
                rounds(t, v[$q % 4], $q);
            )*};
        }
        quads!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        s.abef = _mm_add_epi32(s.abef, saved_s.abef);
        s.cdgh = _mm_add_epi32(s.cdgh, saved_s.cdgh);
        t.abef = _mm_add_epi32(t.abef, saved_t.abef);
        t.cdgh = _mm_add_epi32(t.cdgh, saved_t.cdgh);
    }

    /// An input as blocks: its whole 64-byte blocks, then the one or two
    /// padded blocks of its tail (0x80, zeros, the bit length).
    struct Blocks<'a> {
        whole: &'a [u8],
        tail: [u8; 128],
        count: usize,
    }

    impl<'a> Blocks<'a> {
        fn new(input: &'a [u8]) -> Self {
            let cut = input.len() / 64 * 64;
            let (whole, rest) = input.split_at(cut);
            let mut tail = [0u8; 128];
            tail[..rest.len()].copy_from_slice(rest);
            tail[rest.len()] = 0x80;
            let tail_len = if rest.len() < 56 { 64 } else { 128 };
            let bits = (input.len() as u64).wrapping_mul(8);
            tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
            Blocks {
                whole,
                tail,
                count: cut / 64 + tail_len / 64,
            }
        }

        fn block(&self, i: usize) -> &[u8; 64] {
            let whole = self.whole.len() / 64;
            let bytes = if i < whole {
                &self.whole[64 * i..64 * i + 64]
            } else {
                &self.tail[64 * (i - whole)..64 * (i - whole) + 64]
            };
            bytes.try_into().unwrap_or(&[0u8; 64])
        }
    }

    /// The SHA-256 of `a` and of `b`, in lockstep while both have blocks.
    ///
    /// # Safety
    /// The CPU must have SHA-NI, SSSE3 and SSE4.1 ([`available`]).
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn two(a: &[u8], b: &[u8]) -> ([u8; 32], [u8; 32]) {
        let (x, y) = (Blocks::new(a), Blocks::new(b));
        let (mut s, mut t) = (initial(), initial());
        let common = x.count.min(y.count);
        for i in 0..common {
            compress_two(&mut s, x.block(i), &mut t, y.block(i));
        }
        for i in common..x.count {
            compress(&mut s, x.block(i));
        }
        for i in common..y.count {
            compress(&mut t, y.block(i));
        }
        (finish(s), finish(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let got = digests(&[b"abc", b"", b"abc"]);
        assert_eq!(hex(got[0]), abc);
        assert_eq!(hex(got[1]), empty);
        assert_eq!(hex(got[2]), abc);
    }

    #[test]
    fn every_tail_length_against_the_sha2_crate() {
        let data: Vec<u8> = (0..2200u32).map(|i| (i * 7 + 3) as u8).collect();
        // Lengths around the block and padding edges, paired with others.
        for len in (0..200).chain(1000..1100).chain([2048, 2200]) {
            let a = &data[..len];
            let b = &data[len / 3..len / 3 + (len * 5) % 1500];
            let got = digests(&[a, b]);
            assert_eq!(got[0], one(a), "len {len}");
            assert_eq!(got[1], one(b), "len {} (paired with {len})", b.len());
        }
    }

    proptest! {
        #[test]
        fn any_inputs_hash_as_the_sha2_crate_does(
            inputs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1300), 0..7)
        ) {
            let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            let want: Vec<[u8; 32]> = refs.iter().map(|i| one(i)).collect();
            prop_assert_eq!(digests(&refs), want);
        }
    }
}
