//! The pause container of an awsvpc task: the process that holds the task's
//! network namespace while its containers come and go, as the ECS agent's
//! `amazon/amazon-ecs-pause` does.
//!
//! No registry is needed for it: Wharf carries the image itself. Its one
//! file is a tiny static program that waits for signals forever (x86-64:
//! `pause()` in a loop; arm64, which has no `pause`, `ppoll` with no file
//! descriptors), written here as machine code in a minimal ELF, and imported
//! into Docker as a one-file root filesystem.

/// The image Wharf imports for pause containers.
pub const PAUSE_IMAGE: &str = "wharf/pause:1";

/// The program's path inside the image.
pub const PAUSE_COMMAND: &str = "/pause";

/// The container name ECS gives a task's pause container.
pub const PAUSE_CONTAINER_NAME: &str = "~internal~ecs~pause";

/// Where the code sits: right after the ELF header (64 bytes) and the one
/// program header (56 bytes).
const CODE_OFFSET: u64 = 120;
const LOAD_ADDRESS: u64 = 0x40_0000;

/// The pause program for this machine's architecture, or `None` where Wharf
/// has none.
pub fn pause_program(arch: &str) -> Option<Vec<u8>> {
    let (machine, code): (u16, &[u8]) = match arch {
        // mov eax, 34 (pause); syscall; jmp back to mov.
        "x86_64" => (0x3e, &[0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]),
        // mov x0..x3, #0; mov x8, #73 (ppoll); svc #0; b back to the first mov.
        "aarch64" => (
            0xb7,
            &[
                0x00, 0x00, 0x80, 0xd2, 0x01, 0x00, 0x80, 0xd2, 0x02, 0x00, 0x80, 0xd2, 0x03, 0x00,
                0x80, 0xd2, 0x28, 0x09, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4, 0xfa, 0xff, 0xff, 0x17,
            ],
        ),
        _ => return None,
    };
    let size = CODE_OFFSET + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    // ELF header: 64-bit, little-endian, version 1, System V.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&(LOAD_ADDRESS + CODE_OFFSET).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers' offset
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // header size
    elf.extend_from_slice(&56u16.to_le_bytes()); // program header size
    elf.extend_from_slice(&1u16.to_le_bytes()); // one program header
    elf.extend_from_slice(&[0; 6]); // section header size, count, names index
                                    // One PT_LOAD of the whole file, readable and executable.
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&5u32.to_le_bytes());
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&LOAD_ADDRESS.to_le_bytes());
    elf.extend_from_slice(&LOAD_ADDRESS.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    debug_assert_eq!(elf.len() as u64, CODE_OFFSET);
    elf.extend_from_slice(code);
    Some(elf)
}

/// A tar archive holding one executable file at the root: the pause
/// image's whole filesystem. (A one-entry ustar archive is a header, the
/// data and padding; a tar library would be more code than this.)
pub fn rootfs_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let put = |header: &mut [u8; 512], at: usize, field: &[u8]| {
        header[at..at + field.len()].copy_from_slice(field);
    };
    put(&mut header, 0, name.as_bytes());
    put(&mut header, 100, b"0000755\0");
    put(&mut header, 108, b"0000000\0");
    put(&mut header, 116, b"0000000\0");
    put(&mut header, 124, format!("{:011o}\0", data.len()).as_bytes());
    put(&mut header, 136, b"00000000000\0");
    put(&mut header, 148, b"        ");
    header[156] = b'0';
    put(&mut header, 257, b"ustar\0");
    put(&mut header, 263, b"00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.extend_from_slice(&[0; 1024]);
    tar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_elf_executables_of_their_machine() {
        let x86 = pause_program("x86_64").unwrap();
        assert_eq!(&x86[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([x86[18], x86[19]]), 0x3e);
        assert_eq!(x86.len(), 129);
        let arm = pause_program("aarch64").unwrap();
        assert_eq!(u16::from_le_bytes([arm[18], arm[19]]), 0xb7);
        assert_eq!(arm.len() % 4, 0);
        assert!(pause_program("riscv64").is_none());
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn the_x86_program_waits_until_killed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, pause_program("x86_64").unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "it must still be waiting");
        child.kill().unwrap();
        assert!(!child.wait().unwrap().success());
    }

    #[test]
    fn the_archive_is_ustar_with_a_valid_checksum() {
        let tar = rootfs_tar("pause", b"abc");
        assert_eq!(tar.len(), 512 + 512 + 1024);
        assert_eq!(&tar[257..262], b"ustar");
        let mut header = tar[..512].to_vec();
        let stored =
            u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap(), 8).unwrap();
        header[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, header.iter().map(|b| u32::from(*b)).sum::<u32>());
        assert_eq!(&tar[512..515], b"abc");
    }
}
