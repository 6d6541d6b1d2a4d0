//! Content fingerprints: blake3 digests of canonical encodings.

use std::fmt;
use std::str::FromStr;

mod pieces;

/// Files at least this large are hashed on all cores
/// ([`Fingerprint::of_file`]).
pub const PARALLEL_HASH_BYTES: u64 = 4 << 20;

/// Bytes read at a time by [`Fingerprint::of_file`] from smaller files.
const READ_BYTES: usize = 1 << 20;

/// A 256-bit blake3 digest identifying a value's content, a task's code or a task key.
///
/// Two values with the same fingerprint are treated as equal everywhere in the
/// framework: skipping, early cutoff and the memo table all compare fingerprints.
///
/// ```
/// use pipeline_core::fingerprint::Fingerprint;
/// let a = Fingerprint::of_bytes(b"hello");
/// assert_eq!(a, Fingerprint::of_bytes(b"hello"));
/// assert_ne!(a, Fingerprint::of_bytes(b"hello!"));
/// assert_eq!(a.to_hex().parse::<Fingerprint>().unwrap(), a);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The fingerprint of a file's bytes, and its size. A file of
    /// [`PARALLEL_HASH_BYTES`] or more is hashed on all cores, each reading
    /// its own pieces of it (see `pieces.rs`); a smaller one is read in
    /// windows on this thread. Memory stays small whatever the file size,
    /// and the file is never mapped.
    ///
    /// # Errors
    /// Opening or reading the file failed, or it shrank while it was read.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<(u64, Self)> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len >= PARALLEL_HASH_BYTES {
            let digest = pieces::hash(&file, len)?;
            return Ok((len, Self(*digest.as_bytes())));
        }
        Self::of_reader(file)
    }

    /// [`Self::of_file`] by reading `file` window by window.
    fn of_reader(mut file: std::fs::File) -> std::io::Result<(u64, Self)> {
        use std::io::Read;
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; READ_BYTES];
        loop {
            let mut filled = 0;
            while filled < buffer.len() {
                match file.read(&mut buffer[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if filled == 0 {
                break;
            }
            hasher.update(&buffer[..filled]);
            if filled < buffer.len() {
                break;
            }
        }
        Ok((hasher.count(), Self(*hasher.finalize().as_bytes())))
    }

    /// The fingerprint of a byte string.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The full lowercase hexadecimal form (64 characters), as used for file names.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(DIGITS[(byte >> 4) as usize] as char);
            out.push(DIGITS[(byte & 0xf) as usize] as char);
        }
        out
    }

    /// The first 12 hexadecimal characters, for display to people.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Serialized as its 64 hexadecimal characters.
impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The error returned when a string is not a 64-character hexadecimal fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fingerprint {0:?}: expected 64 hexadecimal characters")]
pub struct ParseFingerprintError(pub String);

impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFingerprintError(s.to_owned());
        if s.len() != 64 {
            return Err(err());
        }
        let mut bytes = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).map_err(|_| err())?;
            bytes[i] = u8::from_str_radix(hex, 16).map_err(|_| err())?;
        }
        Ok(Self(bytes))
    }
}

/// An incremental fingerprint builder: feed canonical bytes, then [`finish`](Self::finish).
///
/// Every `update_*` method writes a length or a fixed width first, so distinct
/// sequences of updates never produce the same byte stream.
#[derive(Default, Clone)]
pub struct FingerprintHasher(blake3::Hasher);

impl FingerprintHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(blake3::Hasher::new())
    }

    /// A hasher whose output is separated from other uses by a domain string.
    pub fn with_domain(domain: &str) -> Self {
        let mut hasher = Self::new();
        hasher.update_str(domain);
        hasher
    }

    /// Feeds raw bytes, prefixed by their length.
    pub fn update_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Feeds a string, prefixed by its length.
    pub fn update_str(&mut self, s: &str) -> &mut Self {
        self.update_bytes(s.as_bytes())
    }

    /// Feeds a fixed-width integer.
    pub fn update_u64(&mut self, n: u64) -> &mut Self {
        self.0.update(&n.to_le_bytes());
        self
    }

    /// Feeds another fingerprint.
    pub fn update_fingerprint(&mut self, fp: &Fingerprint) -> &mut Self {
        self.0.update(fp.as_bytes());
        self
    }

    /// Feeds raw bytes without a length prefix (for streaming one blob in pieces).
    pub fn update_raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// The digest of everything fed so far.
    pub fn finish(&self) -> Fingerprint {
        Fingerprint(*self.0.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_hashes_to_its_bytes_fingerprint_in_pieces_or_read() {
        let dir = tempfile::tempdir().unwrap();
        // One byte short of the threshold is read on this thread; the
        // threshold plus a partial piece is hashed in pieces.
        for len in [PARALLEL_HASH_BYTES - 1, PARALLEL_HASH_BYTES + (3 << 20) + 5] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("{len}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(
                Fingerprint::of_file(&path).unwrap(),
                (len, Fingerprint::of_bytes(&bytes)),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let fp = Fingerprint::of_bytes(b"x");
        assert_eq!(fp.to_hex().len(), 64);
        assert_eq!(fp.to_hex().parse::<Fingerprint>(), Ok(fp));
        assert!("abc".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn length_prefixes_separate_adjacent_strings() {
        let ab_c = FingerprintHasher::new()
            .update_str("ab")
            .update_str("c")
            .finish();
        let a_bc = FingerprintHasher::new()
            .update_str("a")
            .update_str("bc")
            .finish();
        assert_ne!(ab_c, a_bc);
    }
}
