//! Gives the memory of evicted actors back to the operating system. glibc keeps freed memory in
//! its arenas for reuse, so without this the resident size of a service that once had many live
//! actors would never go down again.

/// Returns free memory at the top of glibc's heaps and in its arenas to the system.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only walks the allocator's own free lists; it is
    // thread-safe (it locks each arena it trims).
    unsafe {
        libc::malloc_trim(0);
    }
}
