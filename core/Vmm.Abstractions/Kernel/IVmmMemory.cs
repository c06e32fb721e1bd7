namespace Vmm.Abstractions;

/// <summary>Which of a VM's files a VMM call names: the memslot's backing file (the shared memory at the hva) or its guest_memfd.</summary>
public enum VmFile
{
    Backing,
    GuestMemfd,
}

/// <summary>
/// Memory calls the VMM makes on a VM's memslot when a policy models the VMM's side of a design (QEMU's
/// ram_block_discard_range, the guest-only series' MAP_FIXED remaps). Ranges are gpa ranges of the memslot.
/// </summary>
public interface IVmmMemory
{
    /// <summary>fallocate(PUNCH_HOLE | KEEP_SIZE) on the VM's file at offset = gpa; 0 or the errno.</summary>
    Errno PunchHole(VmId vm, VmFile file, Gpa gpa, ulong size);

    /// <summary>unmap_mapping_range: every process's mappings of the VM's file over the range go (the pages stay in the file).</summary>
    void UnmapMappingRange(VmId vm, VmFile file, Gpa gpa, ulong size);

    /// <summary>mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS) over the memslot's range: fresh anonymous memory replaces what the VMM mapped there.</summary>
    Errno MapAnonymous(VmId vm, Gpa gpa, ulong size);

    /// <summary>mmap(MAP_FIXED | MAP_SHARED) of the memslot's backing file over the range, then mprotect(PROT_GUEST) on it when <paramref name="guest"/>.</summary>
    Errno MapBacking(VmId vm, Gpa gpa, ulong size, bool guest);
}
