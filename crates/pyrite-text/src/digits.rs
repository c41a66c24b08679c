//! Numbers as decimal or hexadecimal bytes, for text built per request (a
//! WSGI environ, an interpreter name) where core::fmt would cost more than the rest.

/// Formats numbers without going through core::fmt (for what is built per request).
pub struct Digits([u8; 64]);

impl Default for Digits {
    fn default() -> Self {
        Digits([0; 64])
    }
}

impl Digits {
    /// `n` in base 10 or 16 (lower case).
    pub fn of(&mut self, mut n: u64, base: u64) -> &[u8] {
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b"0123456789abcdef"[(n % base) as usize];
            n /= base;
            if n == 0 {
                break;
            }
        }
        &self.0[i..]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_in_both_bases() {
        let mut d = super::Digits::default();
        assert_eq!(d.of(0, 10), b"0");
        assert_eq!(d.of(8080, 10), b"8080");
        assert_eq!(d.of(u64::MAX, 10), u64::MAX.to_string().as_bytes());
        assert_eq!(d.of(0xbeef, 16), b"beef");
        assert_eq!(d.of(u64::MAX, 16), b"ffffffffffffffff");
    }
}
