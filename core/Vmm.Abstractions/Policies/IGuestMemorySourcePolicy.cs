namespace Vmm.Abstractions;

/// <summary>
/// A vCPU access to <paramref name="Gfn"/> missed the EPT. <paramref name="Private"/> for a private access,
/// <paramref name="AttributePrivate"/> for the gfn's KVM_MEMORY_ATTRIBUTE_PRIVATE; <paramref name="HasGuestMemfd"/>
/// when the memslot is bound to a guest_memfd, <paramref name="GuestMemfdOnly"/> when every fault of the slot goes
/// through it (KVM_MEMSLOT_GMEM_ONLY: a guest_memfd created with GUEST_MEMFD_FLAG_MMAP, 6.18).
/// </summary>
public readonly record struct GuestAccess(VmInfo Vm, Gfn Gfn, bool Private, bool AttributePrivate, bool HasGuestMemfd, bool GuestMemfdOnly);

/// <summary>Where KVM takes the page of a guest fault from (kvm_mmu_faultin_pfn).</summary>
public enum GuestMemorySource
{
    /// <summary>Kernel default: hva_to_pfn on the VMM's mapping of the memslot.</summary>
    VmmMapping,
    /// <summary>kvm_gmem_get_pfn on the memslot's guest_memfd (zeroed on first use; a poisoned page is EHWPOISON).</summary>
    GuestMemfd,
    /// <summary>kvm_mmu_prepare_memory_fault_exit: KVM_RUN fails EFAULT with exit MEMORY_FAULT (flags PRIVATE iff the access was private, the page's gpa, 4K).</summary>
    MemoryFault,
}

/// <summary>The source of guest memory per fault: the VMM's mapping (every design before 6.8) or a guest_memfd.</summary>
public interface IGuestMemorySourcePolicy
{
    GuestMemorySource SourceOf(GuestAccess access) => GuestMemorySource.VmmMapping;
}
