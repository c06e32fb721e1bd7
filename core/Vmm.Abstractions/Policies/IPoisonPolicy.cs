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

/// <summary>
/// The private-memory policy: what happens when a guest page becomes private or shared, on guest faults,
/// host touches of poisoned entries, GUP, free and memory failure. Defaults are the unmodified kernel
/// (policy "none"); a policy overrides the hooks it changes. Called on the machine's single thread.
/// </summary>
public interface IPoisonPolicy
{
    void Attach(IHostKernel kernel) { }

    /// <summary>A VM was created; its memslot is mapped in the VMM.</summary>
    void OnVmCreated(VmInfo vm) { }

    /// <summary>True when the VMM's mapping of this VM's memory must be PROT_NONE (2020 series).</summary>
    bool MapsVmmMemoryProtNone(VmInfo vm) => false;

    /// <summary>FOLL flags KVM's hva_to_pfn passes (upstream: FOLL_HWPOISON, plus FOLL_WRITE as needed).</summary>
    GupFlags KvmGupFlags(VmInfo vm) => GupFlags.HwPoison;

    /// <summary>After hva_to_pfn returned a frame, before the EPT entry is installed (the RFC's poison point).</summary>
    GuestFaultAction OnGuestFault(VmInfo vm, Gfn gfn, Pfn pfn, bool privateAccess) => GuestFaultAction.Map;

    /// <summary>A host access (fault or GUP with <paramref name="flags"/>) reached a hwpoison entry for <paramref name="pfn"/>.</summary>
    HwPoisonEntryAction OnHwPoisonEntry(int pid, Hva hva, Pfn pfn, GupFlags flags) => HwPoisonEntryAction.Poisoned;

    /// <summary>A frame that is PG_hwp was found present through GUP; false makes GUP fail as on a hwpoison entry.</summary>
    bool AllowGupOfPoisonedFrame(Pfn pfn, GupFlags flags) => true;

    /// <summary>The guest converts [gpa, gpa+size) to private or shared; null means the conversion is done (ok).</summary>
    Outcome? OnConvert(VmInfo vm, Gpa gpa, ulong size, bool toPrivate) => null;

    /// <summary>
    /// copy_from_guest / copy_to_guest (KVM's own access for emulated devices) found this frame through
    /// GUP with <see cref="KvmGupFlags"/>: may KVM touch it (RFC v2 kvm_page_allowed)?
    /// </summary>
    bool KvmPageAllowed(VmInfo vm, Pfn pfn) => true;

    /// <summary>
    /// A fault through a none PTE found a poisoned page-cache page: the kernel gives VM_FAULT_HWPOISON
    /// (SIGBUS BUS_MCEERR_AR, K23); the RFC's shmem patch fails the lookup with -EIO (BUS_ADRERR).
    /// </summary>
    SigBusCode PoisonedCachePageFault(Pfn pfn) => SigBusCode.BUS_MCEERR_AR;

    /// <summary>The frame's last reference went away.</summary>
    FreeAction OnFree(Pfn pfn) => FreeAction.Default;

    /// <summary>memory_failure() is about to handle a real error on this frame.</summary>
    void OnMemoryFailure(Pfn pfn, bool actionRequired) { }
}
