//! Giving memory back before the daemon sleeps (docs/architecture.md, the
//! daemon's memory): after a load or a request, what they used is handed
//! back to the kernel, so that an idle daemon holds its plan and little
//! else.
//!
//! Three kinds of pages, each given back only where nothing is lost:
//!
//! - the heap's free pages (`malloc_trim(0)`): glibc keeps what a load
//!   freed (the parsed document) for the next allocation;
//! - clean pages of file mappings: the code and read-only data of kron and
//!   its libraries that starting and loading ran through (clap, toml_edit,
//!   the schedule engine...), which the kernel maps in 64 KiB at a time.
//!   Only mappings that are not writable and hold no private copy of a
//!   page (smaps' `Anonymous: 0 kB`) are dropped (`MADV_DONTNEED`): their
//!   pages are the file's, and come back from the page cache when they are
//!   used again. Relocated read-only data (RELRO), which the dynamic loader
//!   wrote, has private copies and stays;
//! - the stack below the current frame, which the deepest calls of
//!   starting and loading (clap, the TOML parser) dirtied and nothing uses
//!   any more; its pages come back zeroed when a call goes that deep again.
//!
//! [`give_back`] is called just before `poll(2)`, after everything else of
//! the turn, so that the code still to run before the sleep is a few
//! pages; first thing in `kron daemon run`, for what the dynamic loader
//! touched; and between the steps of a start and of a load (parsing,
//! writing the snapshots, planning), so that their peak is the largest
//! step's, not the sum of all. Each call reads `/proc/self/smaps` and
//! makes a few dozen `madvise` calls: about a millisecond.
//!
//! Which pages a step maps is the other half (build.rs): the daemon's
//! functions lie side by side in the binary, so a step maps a few hundred
//! kB of code where it would map 2-3 MB of 64 KiB windows.

/// The stack kept below the current frame: the rest of this turn (the
/// `poll` call) and a margin far larger than it needs.
const STACK_KEPT: usize = 64 * 1024;

/// Gives back the free heap, the clean file pages and the unused stack.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut ranges = droppable(&smaps);
    drop(smaps);
    let frame = 0u8;
    let here = std::ptr::addr_of!(frame) as usize;
    // Only the stack this frame is on (the daemon's one thread is the
    // main thread; a test's is not).
    if let Some(stack) = ranges.stack.take()
        && (stack.0..stack.1).contains(&here)
    {
        let end = (here.saturating_sub(STACK_KEPT)) & !(page_size() - 1);
        if end > stack.0 {
            ranges.clean.push((stack.0, end));
        }
    }
    // Nothing but these calls between the first and the last: code run
    // after a range is dropped is mapped back.
    for &(start, end) in &ranges.clean {
        // SAFETY: each range is either a private file mapping that was never
        // written (no anonymous page), whose pages come back from the file,
        // or the part of this thread's stack below the live frames, which
        // holds nothing (see `STACK_KEPT`).
        unsafe {
            nix::libc::madvise(
                start as *mut nix::libc::c_void,
                end - start,
                nix::libc::MADV_DONTNEED,
            );
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { nix::libc::sysconf(nix::libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Ranges {
    /// Clean file mappings: (start, end).
    clean: Vec<(usize, usize)>,
    /// The main thread's stack mapping.
    stack: Option<(usize, usize)>,
}

/// The mappings of `/proc/self/smaps` whose pages can be dropped: file
/// mappings that are not writable and have no anonymous page; and the
/// stack.
fn droppable(smaps: &str) -> Ranges {
    let mut ranges = Ranges::default();
    // The mapping being read: its range and whether it may be dropped.
    let mut current: Option<((usize, usize), bool)> = None;
    let close = |current: &mut Option<((usize, usize), bool)>, ranges: &mut Ranges| {
        if let Some((range, true)) = current.take() {
            ranges.clean.push(range);
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            close(&mut current, &mut ranges);
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            if path == "[stack]" {
                ranges.stack = Some((start, end));
            }
            let file = path.starts_with('/');
            let private = perms.len() == 4 && perms.ends_with('p');
            let read_only = perms.as_bytes().get(1) == Some(&b'-');
            current = Some(((start, end), file && private && read_only));
        } else if first == "Anonymous:"
            && fields.next() != Some("0")
            && let Some((_, droppable)) = current.as_mut()
        {
            *droppable = false;
        }
    }
    close(&mut current, &mut ranges);
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d93c000000-55d93c100000 r--p 00000000 fe:00 5777543                    /usr/bin/kron
Rss:                 548 kB
Anonymous:             0 kB
55d93c100000-55d93c400000 r-xp 0013b000 fe:00 5777543                    /usr/bin/kron
Rss:                 820 kB
Anonymous:             0 kB
55d93c400000-55d93c41c000 r--p 004aa000 fe:00 5777543                    /usr/bin/kron
Rss:                 112 kB
Anonymous:           112 kB
55d93c41c000-55d93c41d000 rw-p 004c5000 fe:00 5777543                    /usr/bin/kron
Anonymous:             4 kB
55d9430fe000-55d943146000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           124 kB
7f09145ba000-7f09145bc000 r--s 00000000 00:00 0                          /memfd:x (deleted)
Anonymous:             0 kB
7f09145bc000-7f09145be000 r-xp 00000000 00:00 0
Anonymous:             0 kB
7ffff66c4000-7ffff66e5000 rw-p 00000000 00:00 0                          [stack]
Anonymous:            76 kB
";

    #[test]
    fn only_clean_private_file_mappings_and_the_stack_are_dropped() {
        let ranges = droppable(SMAPS);
        assert_eq!(
            ranges.clean,
            [
                (0x55d93c000000, 0x55d93c100000),
                (0x55d93c100000, 0x55d93c400000)
            ],
            "the relocated data, the writable data, the heap, shared and \
             anonymous mappings are kept"
        );
        assert_eq!(ranges.stack, Some((0x7ffff66c4000, 0x7ffff66e5000)));
    }

    #[test]
    fn giving_back_keeps_the_process_working() {
        // Code, read-only data and the stack below this frame dropped: all
        // of it comes back on use.
        let text = format!("{:?}", (1..100).collect::<Vec<_>>());
        give_back();
        assert_eq!(text, format!("{:?}", (1..100).collect::<Vec<_>>()));
        let deep = |n: u64| -> u64 { (0..n).map(|i| i * 2).sum() };
        assert_eq!(deep(10), 90);
    }
}
