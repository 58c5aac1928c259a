//! Where a process keeps its command line, working directory and environment: its PEB
//! points to `RTL_USER_PROCESS_PARAMETERS`, laid out for the process's own bitness.
//!
//! A 32-bit process on 64-bit Windows (WOW64) has two PEBs. The 64-bit one is set up at
//! creation and its parameters are never updated again; the 32-bit one
//! (`NtQueryInformationProcess(ProcessWow64Information)`) is what the process's own
//! `SetCurrentDirectory` and `SetEnvironmentVariable` change, so it is the one read, with
//! the 32-bit layout. The walk is written against [`Memory`] so that both layouts are
//! tested on a made-up address space.

use crate::Result;

/// The offsets of one bitness's PEB and process parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Pointer size in the process: 4 or 8.
    ptr: usize,
    /// `PEB.ProcessParameters`.
    params_in_peb: usize,
    /// `RTL_USER_PROCESS_PARAMETERS.CurrentDirectory.DosPath`.
    pub(super) cwd: usize,
    /// `RTL_USER_PROCESS_PARAMETERS.CommandLine`.
    pub(super) cmdline: usize,
    /// `RTL_USER_PROCESS_PARAMETERS.Environment`.
    env: usize,
}

/// The 64-bit layout.
const LAYOUT_64: Layout = Layout {
    ptr: 8,
    params_in_peb: 0x20,
    cwd: 0x38,
    cmdline: 0x70,
    env: 0x80,
};

/// The 32-bit layout: a WOW64 process's 32-bit PEB, or any process of a 32-bit build.
pub(super) const LAYOUT_32: Layout = Layout {
    ptr: 4,
    params_in_peb: 0x10,
    cwd: 0x24,
    cmdline: 0x40,
    env: 0x48,
};

/// The layout of a process of this build's own bitness.
#[cfg(target_pointer_width = "64")]
pub(super) const NATIVE: Layout = LAYOUT_64;
#[cfg(target_pointer_width = "32")]
pub(super) const NATIVE: Layout = LAYOUT_32;

/// Another process's memory: fills `buf` from `addr` entirely, or fails.
pub(super) trait Memory {
    fn read(&mut self, addr: usize, buf: &mut [u8]) -> Result<()>;
}

impl Layout {
    /// A pointer of the process's bitness at `addr`.
    fn pointer(&self, m: &mut dyn Memory, addr: usize) -> Result<usize> {
        let mut b = [0u8; 8];
        m.read(addr, &mut b[..self.ptr])?;
        Ok(u64::from_le_bytes(b) as usize)
    }

    /// The address of the process parameters, from the PEB at `peb`.
    pub(super) fn params(&self, m: &mut dyn Memory, peb: usize) -> Result<usize> {
        self.pointer(m, peb + self.params_in_peb)
    }

    /// The `UNICODE_STRING` at `params + field`: its text. (`Length` and
    /// `MaximumLength` are two u16s, then the buffer pointer, aligned to its size.)
    pub(super) fn string(
        &self,
        m: &mut dyn Memory,
        params: usize,
        field: usize,
    ) -> Result<Vec<u16>> {
        let mut len = [0u8; 2];
        m.read(params + field, &mut len)?;
        let units = usize::from(u16::from_le_bytes(len)) / 2;
        if units == 0 {
            return Ok(Vec::new());
        }
        let buffer = self.pointer(m, params + field + self.ptr)?;
        let mut bytes = vec![0u8; units * 2];
        m.read(buffer, &mut bytes)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }

    /// The address of the environment block (0 if none).
    pub(super) fn environment(&self, m: &mut dyn Memory, params: usize) -> Result<usize> {
        self.pointer(m, params + self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    /// A made-up address space: one block at `base`.
    struct Image {
        base: usize,
        bytes: Vec<u8>,
    }

    impl Memory for Image {
        fn read(&mut self, addr: usize, buf: &mut [u8]) -> Result<()> {
            let at = addr.checked_sub(self.base);
            match at.and_then(|a| self.bytes.get(a..a + buf.len())) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    Ok(())
                }
                None => Err(Error::new(ErrorKind::Os, "read memory")
                    .with_detail(format!("{addr:#x} is not mapped"))),
            }
        }
    }

    impl Image {
        fn put(&mut self, addr: usize, b: &[u8]) {
            let a = addr - self.base;
            self.bytes[a..a + b.len()].copy_from_slice(b);
        }
        fn put_ptr(&mut self, l: &Layout, addr: usize, v: usize) {
            self.put(addr, &(v as u64).to_le_bytes()[..l.ptr]);
        }
        fn put_string(&mut self, l: &Layout, at: usize, text_at: usize, s: &str) {
            let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let n = units.len() as u16;
            self.put(at, &n.to_le_bytes());
            self.put(at + 2, &(n + 2).to_le_bytes());
            self.put_ptr(l, at + l.ptr, text_at);
            self.put(text_at, &units);
        }
    }

    /// A PEB, parameters and strings laid out as `l` says; reads them back.
    fn round_trip(l: Layout) {
        let base = 0x7000_0000;
        let (peb, params, strings) = (base, base + 0x100, base + 0x400);
        let mut m = Image {
            base,
            bytes: vec![0; 0x1000],
        };
        m.put_ptr(&l, peb + l.params_in_peb, params);
        m.put_string(&l, params + l.cmdline, strings, "prog.exe \"a b\"");
        m.put_string(&l, params + l.cwd, strings + 0x100, "C:\\work\\");
        m.put_ptr(&l, params + l.env, strings + 0x200);
        let p = l.params(&mut m, peb).unwrap();
        assert_eq!(p, params);
        let text = |v: Vec<u16>| String::from_utf16(&v).unwrap();
        assert_eq!(
            text(l.string(&mut m, p, l.cmdline).unwrap()),
            "prog.exe \"a b\""
        );
        assert_eq!(text(l.string(&mut m, p, l.cwd).unwrap()), "C:\\work\\");
        assert_eq!(l.environment(&mut m, p).unwrap(), strings + 0x200);
        // An empty string reads no buffer; a pointer out of the image is an error.
        m.put(params + l.cwd, &[0, 0]);
        assert!(l.string(&mut m, p, l.cwd).unwrap().is_empty());
        m.put(params + l.cwd, &8u16.to_le_bytes());
        m.put_ptr(&l, params + l.cwd + l.ptr, 0x10);
        assert!(l.string(&mut m, p, l.cwd).is_err());
    }

    #[test]
    fn the_64_bit_layout() {
        round_trip(LAYOUT_64);
    }

    #[test]
    fn the_32_bit_layout_of_a_wow64_process() {
        round_trip(LAYOUT_32);
    }
}
