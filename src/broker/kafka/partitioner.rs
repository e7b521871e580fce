//! Kafka's default key partitioner, ported bit for bit from the Java client so that a keyed
//! record lands on exactly the partition a real producer would pick. This module owns the
//! murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`), the sign-bit mask
//! (`Utils.toPositive`) and the key-to-partition rule
//! (`org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey`). It does
//! not own the sticky/adaptive choice for records without a key; that is the caller's concern.

/// The seed Kafka's `Utils.murmur2` starts from.
const SEED: u32 = 0x9747_b28c;
/// The multiplicative mixing constant of `Utils.murmur2`.
const M: u32 = 0x5bd1_e995;
/// The shift of the per-block mixing step in `Utils.murmur2`.
const R: u32 = 24;

/// Kafka's murmur2 hash (`Utils.murmur2`), returned as a signed 32-bit value exactly like
/// Java's `int`, because Kafka's partitioner and its test vectors are defined on that value.
///
/// Java's arithmetic on `int` wraps silently and `>>>` is a logical shift, so the port works
/// on `u32` with wrapping multiplication and reinterprets the final bits as `i32`. The empty
/// slice is a valid input and hashes to a defined value, as it does in Java.
pub fn murmur2(data: &[u8]) -> i32 {
    // Java: `int h = seed ^ length;` (a Java array is never longer than i32::MAX, so the
    // truncating cast only matters for inputs Kafka could never hash).
    let mut h: u32 = SEED ^ (data.len() as u32);

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        // Java assembles the block little-endian from unsigned bytes.
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Java's `switch (length % 4)` falls through from case 3 to case 1.
    let tail = blocks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (`n & 0x7fffffff`) rather than taking an
/// absolute value, because `Math.abs(Integer.MIN_VALUE)` is still negative in Java and Kafka
/// relies on this mask to map every hash onto `0..=i32::MAX`.
pub fn to_positive(n: i32) -> u32 {
    (n as u32) & 0x7fff_ffff
}

/// Kafka's `BuiltInPartitioner.partitionForKey`: `toPositive(murmur2(key)) % numPartitions`,
/// so a simulated producer sends a keyed record to the same partition a real one would.
///
/// `num_partitions` must be at least 1 for the answer to mean anything; for 0, where Java
/// would throw `ArithmeticException`, this returns 0 instead of panicking so that bad input
/// cannot abort a simulation.
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    to_positive(murmur2(key))
        .checked_rem(num_partitions)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vector of `UtilsTest.testMurmur2` in Apache Kafka
    /// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            // Kafka writes this one as `new byte[] {'a', 'b', 'c'}`.
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "murmur2({data:?})");
        }
    }

    /// kafka-python's `test_murmur2_java_compatibility` (test/test_partitioner.py) records what
    /// Kafka's Java partitioner chose with 1000 partitions; it covers the empty key and every
    /// tail length (0, 1, 2, 3 bytes after the 4-byte blocks).
    #[test]
    fn partition_for_key_matches_java_partitioner_with_1000_partitions() {
        let cases: [(&[u8], u32); 6] = [
            (b"", 681),
            (b"a", 524),
            (b"ab", 434),
            (b"abc", 107),
            (b"123456789", 566),
            (b"\x00 ", 742),
        ];
        for (key, expected) in cases {
            assert_eq!(partition_for_key(key, 1000), expected, "key {key:?}");
        }
    }

    #[test]
    fn empty_key_hashes() {
        // 275646681 % 1000 == 681, the value kafka-python recorded from the Java client.
        assert_eq!(murmur2(b""), 275_646_681);
        assert_eq!(partition_for_key(b"", 12), 275_646_681 % 12);
    }

    #[test]
    fn to_positive_masks_the_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(1), 1);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(i32::MAX), 0x7fff_ffff);
        // From UtilsTest's "21": 2^31 - 973932308.
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
    }

    /// Partitions for 12 partitions, worked by hand from the UtilsTest hashes:
    /// toPositive(h) = h + 2^31 for negative h, then the remainder by 12.
    #[test]
    fn partition_for_key_with_12_partitions() {
        // "21": -973932308 -> 1173551340 = 12 * 97795945 + 0
        assert_eq!(partition_for_key(b"21", 12), 0);
        // "foobar": -790332482 -> 1357151166 = 12 * 113095930 + 6
        assert_eq!(partition_for_key(b"foobar", 12), 6);
        // "a-little-bit-long-string": -985981536 -> 1161502112 = 12 * 96791842 + 8
        assert_eq!(partition_for_key(b"a-little-bit-long-string", 12), 8);
        // "a-little-bit-longer-string": -1486304829 -> 661178819 = 12 * 55098234 + 11
        assert_eq!(partition_for_key(b"a-little-bit-longer-string", 12), 11);
        // "abc": 479470107 (already positive) = 12 * 39955842 + 3
        assert_eq!(partition_for_key(b"abc", 12), 3);
    }

    #[test]
    fn one_partition_always_zero_and_zero_partitions_do_not_panic() {
        for key in [&b""[..], b"x", b"foobar", b"some-longer-key-1234"] {
            assert_eq!(partition_for_key(key, 1), 0);
            assert_eq!(partition_for_key(key, 0), 0);
        }
    }
}
