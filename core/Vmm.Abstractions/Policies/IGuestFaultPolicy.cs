namespace Vmm.Abstractions;

/// <summary>KVM reaching one VM's memory through the VMM's mapping (hva_to_pfn, copy_from/to_guest).</summary>
public readonly record struct KvmAccess(VmInfo Vm);

/// <summary>hva_to_pfn returned <paramref name="Pfn"/> for a guest fault on <paramref name="Gfn"/>; <paramref name="Private"/> for a private access.</summary>
public readonly record struct GuestFault(VmInfo Vm, Gfn Gfn, Pfn Pfn, bool Private);

/// <summary>copy_from_guest / copy_to_guest found <paramref name="Pfn"/> through GUP for <paramref name="Vm"/>.</summary>
public readonly record struct KvmPage(VmInfo Vm, Pfn Pfn);

/// <summary>
/// The guest-fault path: the FOLL flags KVM passes to GUP, what KVM does with the frame before the EPT entry is
/// installed, and whether KVM's own copies may touch a frame. Defaults are the unmodified kernel.
/// </summary>
public interface IGuestFaultPolicy
{
    /// <summary>FOLL flags of hva_to_pfn and of KVM's copies (upstream: FOLL_HWPOISON; the kernel adds FOLL_WRITE as needed).</summary>
    GupFlags KvmGupFlags(KvmAccess access) => GupFlags.HwPoison;

    /// <summary>After hva_to_pfn returned a frame, before the EPT entry is installed (the RFC's poison point).</summary>
    GuestFaultAction OnGuestFault(GuestFault fault) => GuestFaultAction.Map;

    /// <summary>May KVM touch this frame in copy_from/to_guest (RFC v2 kvm_page_allowed)? False is EFAULT.</summary>
    bool KvmPageAllowed(KvmPage page) => true;
}
