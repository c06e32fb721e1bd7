namespace Vmm.Abstractions;

/// <summary>
/// shmem_getpage_gfp found <paramref name="Pfn"/> in a backing file's page cache: for read(2)/write(2) when
/// <paramref name="Syscall"/>, else for a fault through a none PTE of a VMA that is <paramref name="GuestVma"/>
/// (VM_GUEST, mprotect PROT_GUEST) or not, with the GUP flags of the walk (none for a load or store).
/// </summary>
public readonly record struct PageCacheLookup(Pfn Pfn, bool Syscall, bool GuestVma, GupFlags Flags);

/// <summary>Page-cache lookups of the VMs' backing files, before the page is copied or mapped.</summary>
public interface IPageCachePolicy
{
    /// <summary>0 lets the lookup go on; EIO fails it (the syscall returns EIO, a fault is VM_FAULT_SIGBUS: SIGBUS BUS_ADRERR, GUP EFAULT).</summary>
    Errno OnPageCacheLookup(PageCacheLookup lookup) => 0;
}
