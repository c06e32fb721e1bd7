namespace Vmm.Abstractions;

/// <summary>What KVM does with a frame that hva_to_pfn returned for a guest fault.</summary>
public enum GuestFaultAction
{
    /// <summary>Install the EPT entry.</summary>
    Map,
    /// <summary>K26: kvm_send_hwpoison_signal (SIGBUS BUS_MCEERR_AR lsb 12 at the page-aligned hva), RET_PF_RETRY.</summary>
    HwPoisonSignal,
    /// <summary>KVM_RUN fails with EFAULT.</summary>
    Fault,
}

/// <summary>What happens when a host access meets a hwpoison entry (fault path or GUP).</summary>
public enum HwPoisonEntryAction
{
    /// <summary>Kernel default: VM_FAULT_HWPOISON (SIGBUS for a user access, EFAULT/EHWPOISON for GUP).</summary>
    Poisoned,
    /// <summary>The frame is no longer poisoned: rebuild a present PTE and retry (RFC v2).</summary>
    Rebuild,
    /// <summary>Return the frame without rebuilding the PTE (FOLL_ALLOW_POISONED for KVM).</summary>
    Allow,
}

/// <summary>What happens to a frame whose last reference is dropped.</summary>
public enum FreeAction
{
    /// <summary>Kernel default: a PG_hwp frame is leaked (K24); others return to the allocator.</summary>
    Default,
    /// <summary>Clear the frame's poison and return it to the allocator (policy-owned frames, RFC v2).</summary>
    ClearPoisonAndFree,
}

/// <summary>How the VMM's mapping of a VM's memslot is protected.</summary>
public enum VmmProtection
{
    /// <summary>Kernel default: read/write.</summary>
    ReadWrite,
    /// <summary>PROT_NONE (the 2020 VM_KVM_PROTECTED series); KVM follows it with FOLL_KVM.</summary>
    ProtNone,
    /// <summary>mprotect(PROT_GUEST) (the May 2021 guest-only series): VM_GUEST, EINVAL unless MAP_SHARED shmem; PageGuest pages are mapped PAGE_NONE, KVM follows them with FOLL_GUEST.</summary>
    Guest,
    /// <summary>
    /// PROT_READ with writes bounced through the kernel (Hildenbrand's proposal): the VMM's stores to guest memory go
    /// through a kernel write that refuses pages the guest holds private; loads stay direct.
    /// </summary>
    ReadOnlyBounced,
}
